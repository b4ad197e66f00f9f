//! VMs across a WAN link, for the benchmarks' `--rtt` mode: the daemon
//! and every `azlin` command in side A of a [`WanLink`], each VM's agent
//! in side B dialling in (registered with `new --provider external`, as a
//! machine the user runs), and one sshd in side B for the anchor tools
//! (ssh, scp, rsync), which run in side A too. Both tools so cross the
//! same emulated link, in the same run.
//!
//! Not here: the link itself ([`crate::wan`]), what is measured (the
//! benchmarks).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::{
    Env, bin,
    sshd::Sshd,
    wan::{ADDR_A, ADDR_B, Shape, WanLink},
};

/// Where the daemon listens for the agents, in side A.
const DAEMON_PORT: u16 = 47_700;
/// Where the sshd listens, in side B.
pub const SSH_PORT: u16 = 47_722;

pub struct WanVms {
    // Dropped in this order: the agents and sshd, then the daemon (the
    // env), then the namespaces.
    agents: Vec<Child>,
    _sshd: Sshd,
    pub env: Env,
    pub link: WanLink,
    /// The agents' process ids, by VM.
    pub pids: Vec<(String, i32)>,
    /// `ssh -F` this for the anchors (written by `azlin ssh-config`).
    pub ssh_config: PathBuf,
}

impl Drop for WanVms {
    fn drop(&mut self) {
        for a in &mut self.agents {
            let _ = a.kill();
            let _ = a.wait();
        }
    }
}

/// A symmetric link of `rtt_ms`, `loss` (0 to 1) and `rate_mbit`, with
/// `vms` connected across it; `dir` holds their homes and sshd's files.
pub fn start(
    name: &str,
    rtt_ms: f64,
    loss: f64,
    rate_mbit: Option<f64>,
    vms: &[&str],
    dir: &Path,
) -> Result<WanVms, String> {
    if let Some(why) = crate::wan::unavailable() {
        return Err(why);
    }
    let shape = Shape::symmetric(Duration::from_secs_f64(rtt_ms / 1000.0), loss, rate_mbit);
    let link = WanLink::start(name, shape, shape)?;
    let side = |a: bool| format!("{name}-{}", if a { "a" } else { "b" });
    let mut env = Env::new();
    env.wrap(&["ip", "netns", "exec", &side(true)]);
    env.configure(&format!("[daemon]\nlisten = \"{ADDR_A}:{DAEMON_PORT}\"\n"));
    // sshd's logins use the tmux server in `dir/tmux`, as the agents do
    // when the caller sets TMUX_TMPDIR to it (the agents inherit it).
    let tmux_dir = dir.join("tmux");
    std::fs::create_dir_all(&tmux_dir).map_err(|e| e.to_string())?;
    let sshd = Sshd::start_at(
        dir,
        ADDR_B,
        SSH_PORT,
        &tmux_dir,
        link.command(false, "/usr/sbin/sshd"),
    );
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .ok_or("the current user has no passwd entry")?
        .name;
    let mut agents = Vec::new();
    let mut pids = Vec::new();
    for vm in vms {
        let joined: Value = serde_json::from_str(&env.ok(&[
            "new",
            "--provider",
            "external",
            "--name",
            vm,
            "--json",
        ]))
        .map_err(|e| e.to_string())?;
        let token = joined["vms"][0]["token"].as_str().ok_or("no token")?;
        let ca = joined["ca_pem"].as_str().ok_or("no CA")?;
        let at = dir.join("vms").join(vm);
        for sub in ["state", "home"] {
            std::fs::create_dir_all(at.join(sub)).map_err(|e| e.to_string())?;
        }
        std::fs::write(at.join("ca.crt"), ca).map_err(|e| e.to_string())?;
        std::fs::write(at.join("join-token"), token).map_err(|e| e.to_string())?;
        let config = format!(
            "name = \"{vm}\"\nuser = \"{user}\"\nhome = \"{home}\"\nstate_dir = \"{state}\"\n\
             ca_cert = \"{ca}\"\njoin_token_file = \"{token}\"\n\n\
             [connect]\nmode = \"dial\"\ncontroller = \"{ADDR_A}:{DAEMON_PORT}\"\n\n\
             [ssh]\nport = {SSH_PORT}\nhost_keys = [\"{key}\"]\n\n\
             [telemetry]\ntmux_server = \"azlin-{vm}\"\n",
            home = at.join("home").display(),
            state = at.join("state").display(),
            ca = at.join("ca.crt").display(),
            token = at.join("join-token").display(),
            key = dir.join("host_key.pub").display(),
        );
        std::fs::write(at.join("agent.toml"), config).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(at.join("agent.log")).map_err(|e| e.to_string())?;
        let child = link
            .command(false, bin("azlin-agent").to_str().ok_or("agent path")?)
            .arg("run")
            .arg("--config")
            .arg(at.join("agent.toml"))
            .env("AZLIN_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start azlin-agent: {e}"))?;
        // `ip netns exec` execs the agent: the same process.
        pids.push((vm.to_string(), child.id() as i32));
        agents.push(child);
    }
    for vm in vms {
        env.wait(
            &format!("{vm} connected across the link"),
            Duration::from_secs(60),
            || env.connected(vm),
        );
    }
    env.ok(&["ssh-config"]);
    let ssh_config = env.home().join("ssh/config");
    Ok(WanVms {
        agents,
        _sshd: sshd,
        env,
        link,
        pids,
        ssh_config,
    })
}

impl WanVms {
    /// `program` run in side A, where the daemon is: how the anchors run.
    pub fn here(&self, program: &str) -> Command {
        self.link.command(true, program)
    }
}

/// The number after `--NAME` among a benchmark's arguments, if given
/// (`--rtt MS`, `--loss PERCENT`, `--rate MBIT`).
pub fn flag(args: &[String], name: &str) -> Option<f64> {
    let i = args.iter().position(|a| a == name)?;
    Some(
        args.get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} takes a number")),
    )
}
