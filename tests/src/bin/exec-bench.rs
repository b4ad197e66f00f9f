//! Fleet command benchmark: `azlin exec` against real OpenSSH on the same
//! hosts. Each local VM's agent is paired with its own sshd on loopback;
//! the same user and the same command go through the same shell, with
//! parallel-ssh on fresh connections and with ssh ControlMaster (a warm
//! master per host). Prints a Markdown table.
//!
//! The user is `azlin-bench`, made here with Debian's default (plain)
//! shell profile, because sshd's bash sources `~/.bashrc` even for a
//! command and a developer's own profile would time their shell setup, not
//! the transport. Run as root.
//!
//! cargo build --release --workspace && target/release/exec-bench compare [RUNS]
//! target/release/exec-bench huge [MIB]
//! target/release/exec-bench docker [RUNS]
//! target/release/exec-bench wan RTT [LOSS] [RUNS]
//!
//! `wan RTT [LOSS] [RUNS]` runs `true` on 1 and 10 VMs across an
//! emulated WAN link of RTT milliseconds and LOSS percent
//! (`azlin_e2e::wan_vm`): the daemon, the CLI, parallel-ssh and the ssh
//! masters on one side, the agents and one sshd on the other.
//!
//! `docker` repeats the comparison on 10 and 30 docker VMs (containers
//! booted by systemd and cloud-init, see README), against each container's
//! own sshd as the VM user cloud-init made (`azureuser`, Debian's default
//! profile), with azlin's key. Needs the VM image (deploy/vm-image).
//!
//! Needs Debian's openssh-server, openssh-client and pssh.

use std::{
    io::Read,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use azlin_e2e::{Env, free_tcp, proc_stats};

const SIZES: [usize; 3] = [1, 10, 50];
const COMMANDS: [&str; 2] = ["true", "uname -a"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("compare") => compare(args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20)),
        Some("huge") => huge(args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1024)),
        Some("docker") => docker(args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20)),
        Some("wan") => wan(
            args.get(2).and_then(|a| a.parse().ok()).unwrap_or(40.0),
            args.get(3).and_then(|a| a.parse().ok()).unwrap_or(0.0),
            args.get(4).and_then(|a| a.parse().ok()).unwrap_or(20),
        ),
        _ => eprintln!(
            "usage: exec-bench compare [RUNS] | huge [MIB] | docker [RUNS] | wan RTT [LOSS] [RUNS]"
        ),
    }
}

/// sshd instances on loopback, one per VM, sharing a host key and one
/// authorized client key.
struct Sshd {
    dir: tempfile::TempDir,
    ports: Vec<u16>,
    servers: Vec<Child>,
}

impl Sshd {
    fn start(count: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for key in ["host", "client"] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .unwrap()
                .success();
            assert!(ok, "ssh-keygen failed");
        }
        std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).unwrap();
        // sshd reads authorized_keys as the bench user.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(
            d.join("authorized_keys"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let (mut ports, mut servers) = (Vec::new(), Vec::new());
        for i in 0..count {
            let port = free_tcp().port();
            let config = d.join(format!("sshd-{i}.conf"));
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {keys}\n\
                     PidFile {pid}\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\nLogLevel ERROR\n\
                     MaxStartups 200\nMaxSessions 100\n",
                    host = d.join("host").display(),
                    keys = d.join("authorized_keys").display(),
                    pid = d.join(format!("sshd-{i}.pid")).display(),
                ),
            )
            .unwrap();
            servers.push(
                Command::new("/usr/sbin/sshd")
                    .args(["-D", "-e", "-f"])
                    .arg(&config)
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("/usr/sbin/sshd (Debian's openssh-server)"),
            );
            ports.push(port);
        }
        let sshd = Self {
            dir,
            ports,
            servers,
        };
        for &port in &sshd.ports {
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "sshd on {port} did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        sshd
    }

    fn targets(&self) -> SshTargets {
        SshTargets {
            hosts: self
                .ports
                .iter()
                .map(|&p| ("127.0.0.1".to_string(), p))
                .collect(),
            user: user(),
            key: self.dir.path().join("client"),
            sockets: self.dir.path().to_path_buf(),
        }
    }
}

/// Hosts reached over OpenSSH, and how.
struct SshTargets {
    hosts: Vec<(String, u16)>,
    user: String,
    key: PathBuf,
    /// Where the ControlMaster sockets go.
    sockets: PathBuf,
}

impl SshTargets {
    fn ssh_options(&self) -> Vec<String> {
        [
            "-i",
            &self.key.display().to_string(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
        ]
        .map(String::from)
        .to_vec()
    }

    fn socket(&self, index: usize) -> PathBuf {
        self.sockets.join(format!("cm-{index}"))
    }

    fn login(&self, index: usize) -> String {
        format!("{}@{}", self.user, self.hosts[index].0)
    }

    /// A warm master connection per host.
    fn start_masters(&self) {
        for (i, (host, port)) in self.hosts.iter().enumerate() {
            let ok = Command::new("ssh")
                .args(self.ssh_options())
                .args(["-M", "-f", "-N", "-S"])
                .arg(self.socket(i))
                .args(["-p", &port.to_string(), &self.login(i)])
                .status()
                .unwrap()
                .success();
            assert!(ok, "ssh master to {host}:{port} failed");
        }
    }

    fn stop_masters(&self) {
        for i in 0..self.hosts.len() {
            let _ = Command::new("ssh")
                .args(["-S"])
                .arg(self.socket(i))
                .args(["-O", "exit", "x"])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for SshTargets {
    fn drop(&mut self) {
        self.stop_masters();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

const BENCH_USER: &str = "azlin-bench";

fn user() -> String {
    BENCH_USER.to_string()
}

/// Make the bench user if needed, and have every VM's agent run commands
/// as that user (restarting the agents, as a config change on a VM would).
fn use_bench_user(env: &Env, vms: &[String]) {
    if nix::unistd::User::from_name(BENCH_USER).unwrap().is_none() {
        run_ok(Command::new("useradd").args(["--create-home", "--shell", "/bin/bash", BENCH_USER]));
    }
    // No password, but not locked: sshd refuses locked accounts outright.
    run_ok(Command::new("usermod").args(["-p", "*", BENCH_USER]));
    for vm in vms {
        let path = env.vm_dir(vm).join("agent.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        // The bench user's own home, as sshd gives it: a local VM's home
        // folder is the azlin user's (exec.rs's tests switch users alike).
        let text: String = text
            .lines()
            .filter(|l| !l.starts_with("home = "))
            .map(|l| {
                if l.starts_with("user = ") {
                    format!("user = \"{BENCH_USER}\"")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&path, text + "\n").unwrap();
        env.ok(&["stop", vm]);
        env.ok(&["start", vm]);
    }
    env.wait("agents back", Duration::from_secs(60), || {
        env.list().iter().all(|v| v["connected"] == true)
    });
}

fn run_ok(cmd: &mut Command) {
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Median and p90 wall time of `runs` runs of `f`, after one warm-up.
fn time(runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    (
        proc_stats::percentile(&mut ms, 0.5),
        proc_stats::percentile(&mut ms, 0.9),
    )
}

fn compare(runs: usize) {
    let max = *SIZES.iter().max().unwrap();
    let env = Env::new();
    env.ok(&["new", "--name", "b", "--pool", &max.to_string()]);
    let names: Vec<String> = (1..=max).map(|i| format!("b-{i}")).collect();
    use_bench_user(&env, &names);
    let sshd = Sshd::start(max);
    let targets = sshd.targets();
    targets.start_masters();
    table(&env, "b", &targets, &SIZES, runs);
}

/// The same table on docker VMs and each container's own sshd.
fn docker(runs: usize) {
    const DOCKER_SIZES: [usize; 2] = [10, 30];
    let image = azlin_e2e::docker::image().expect("the VM image");
    let env = azlin_e2e::docker::DockerEnv::new(&image);
    let max = *DOCKER_SIZES.iter().max().unwrap();
    let t = Instant::now();
    env.ok(&[
        "new",
        "--provider",
        "docker",
        "--name",
        "d",
        "--pool",
        &max.to_string(),
    ]);
    eprintln!("{max} docker VMs enrolled in {:?}", t.elapsed());
    let hosts = (1..=max)
        .map(|i| {
            let addr = env.vm(&format!("d-{i}"))["address"]
                .as_str()
                .unwrap()
                .to_string();
            (addr.split(':').next().unwrap().to_string(), 22)
        })
        .collect();
    let sockets = tempfile::tempdir().unwrap();
    let targets = SshTargets {
        hosts,
        user: "azureuser".into(),
        key: env.home().join("ssh/id_ed25519"),
        sockets: sockets.path().to_path_buf(),
    };
    targets.start_masters();
    table(&env, "d", &targets, &DOCKER_SIZES, runs);
}

/// `true` on 1 and 10 VMs across an emulated link: azlin against
/// parallel-ssh (fresh connections) and warm ssh masters, every one of
/// them run in the link's side A, through the config `azlin ssh-config`
/// wrote (every VM is the one sshd in side B, as the same user).
fn wan(rtt: f64, loss: f64, runs: usize) {
    let dir = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let _keys = azlin_e2e::sshd::AuthorizedKeys::keep();
    let names: Vec<String> = (1..=10).map(|i| format!("w-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let w = azlin_e2e::wan_vm::start("azlin-xb", rtt, loss / 100.0, None, &refs, dir.path())
        .unwrap_or_else(|e| panic!("cannot make the WAN link: {e}"));
    let config = w.ssh_config.display().to_string();
    let sockets = dir.path().join("cm");
    std::fs::create_dir_all(&sockets).unwrap();
    let socket = |vm: &str| sockets.join(vm).display().to_string();
    for vm in &names {
        let mut c = w.here("ssh");
        c.args(["-F", &config, "-M", "-f", "-N", "-S", &socket(vm), vm]);
        run_ok(&mut c);
    }
    println!("Across the emulated link: RTT {rtt} ms, loss {loss} %; every tool crosses it.\n");
    println!(
        "| command | VMs | azlin p50 / p90 | parallel-ssh (fresh) p50 / p90 | ssh ControlMaster p50 / p90 | azlin vs pssh | azlin − RTT (p50) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for n in [1usize, 10] {
        let vms = &names[..n];
        let mut azlin_args = vec!["exec"];
        for vm in vms {
            azlin_args.extend(["--vm", vm.as_str()]);
        }
        azlin_args.extend(["-n", "--", "true"]);
        let a = time(runs, || run_ok(&mut w.env.command(&azlin_args)));
        let p = time(runs.min(10), || {
            let mut c = w.here("parallel-ssh");
            c.args(["-p", &n.to_string(), "-t", "60", "-x"])
                .arg(format!("-F {config}"));
            for vm in vms {
                c.args(["-H", vm]);
            }
            run_ok(c.arg("true").stdin(Stdio::null()));
        });
        let m = time(runs, || {
            let children: Vec<Child> = vms
                .iter()
                .map(|vm| {
                    w.here("ssh")
                        .args(["-F", &config, "-S", &socket(vm), vm, "true"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .spawn()
                        .unwrap()
                })
                .collect();
            for mut c in children {
                assert!(c.wait().unwrap().success());
            }
        });
        println!(
            "| `true` | {n} | {:.1} / {:.1} ms | {:.0} / {:.0} ms | {:.1} / {:.1} ms | {:.1}× | {:.1} ms |",
            a.0,
            a.1,
            p.0,
            p.1,
            m.0,
            m.1,
            p.0 / a.0,
            a.0 - rtt
        );
    }
    for vm in &names {
        let _ = w
            .here("ssh")
            .args(["-S", &socket(vm), "-O", "exit", vm])
            .stderr(Stdio::null())
            .status();
    }
}

/// Print one row per command and fleet size: azlin, parallel-ssh on fresh
/// connections, and warm ControlMaster connections, to the same hosts.
fn table(env: &Env, prefix: &str, targets: &SshTargets, sizes: &[usize], runs: usize) {
    let max = *sizes.iter().max().unwrap();
    let azlin = azlin_e2e::bin("azlin");
    println!(
        "| command | VMs | azlin p50 / p90 | parallel-ssh (fresh) p50 / p90 | ssh ControlMaster p50 / p90 | azlin vs pssh |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for command in COMMANDS {
        for &n in sizes {
            let vms: Vec<String> = (1..=n).map(|i| format!("{prefix}-{i}")).collect();
            let mut azlin_args = vec!["exec".to_string()];
            if n == max {
                azlin_args.push("--all".into());
            } else {
                for vm in &vms {
                    azlin_args.extend(["--vm".into(), vm.clone()]);
                }
            }
            azlin_args.extend(["-n".into(), "--".into(), command.into()]);
            let a = time(runs, || {
                run_ok(
                    Command::new(&azlin)
                        .args(&azlin_args)
                        .env("AZLIN_HOME", env.home())
                        .stdin(Stdio::null()),
                )
            });
            let p = time(runs.min(10), || {
                let mut c = Command::new("parallel-ssh");
                c.args(["-p", &n.to_string(), "-t", "60", "-l", &targets.user, "-x"])
                    .arg(targets.ssh_options().join(" "));
                for (host, port) in &targets.hosts[..n] {
                    c.args(["-H", &format!("{host}:{port}")]);
                }
                run_ok(c.arg(command).stdin(Stdio::null()));
            });
            let m = time(runs, || {
                let children: Vec<Child> = (0..n)
                    .map(|i| {
                        Command::new("ssh")
                            .args(["-S"])
                            .arg(targets.socket(i))
                            .args([
                                "-p",
                                &targets.hosts[i].1.to_string(),
                                &targets.login(i),
                                command,
                            ])
                            .stdin(Stdio::null())
                            .stdout(Stdio::null())
                            .spawn()
                            .unwrap()
                    })
                    .collect();
                for mut c in children {
                    assert!(c.wait().unwrap().success());
                }
            });
            println!(
                "| `{command}` | {n} | {:.1} / {:.1} ms | {:.0} / {:.0} ms | {:.1} / {:.1} ms | {:.0}× |",
                a.0,
                a.1,
                p.0,
                p.1,
                m.0,
                m.1,
                p.0 / a.0
            );
        }
    }
}

/// Stream `mib` MiB through `azlin exec` on one VM and through a warm ssh
/// master to the same host; report throughput and each hop's peak memory.
fn huge(mib: u64) {
    let env = Env::new();
    env.ok(&["new", "--name", "big"]);
    use_bench_user(&env, &["big".to_string()]);
    let bytes = mib << 20;
    let command = format!("head -c {bytes} /dev/zero");
    let (azlin_secs, total) = drain(
        Command::new(azlin_e2e::bin("azlin"))
            .args(["exec", "--vm", "big", "-n", "--", &command])
            .env("AZLIN_HOME", env.home()),
    );
    assert_eq!(total, bytes);
    let cli = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss() as u64
        * 1024;
    let daemon = proc_stats::status_bytes(env.daemon_pid().unwrap(), "VmHWM").unwrap();
    let agent = proc_stats::status_bytes(env.agent_pid("big").unwrap(), "VmHWM").unwrap();
    let sshd = Sshd::start(1);
    let targets = sshd.targets();
    targets.start_masters();
    let (ssh_secs, total) = drain(Command::new("ssh").arg("-S").arg(targets.socket(0)).args([
        "-p",
        &targets.hosts[0].1.to_string(),
        &targets.login(0),
        &command,
    ]));
    assert_eq!(total, bytes);
    println!("| path | MiB | MiB/s | peak RSS |");
    println!("|---|---:|---:|---|");
    println!(
        "| azlin exec (agent → daemon → CLI) | {mib} | {:.0} | agent {:.1} MiB, daemon {:.1} MiB, CLI {:.1} MiB |",
        mib as f64 / azlin_secs,
        proc_stats::mib(agent),
        proc_stats::mib(daemon),
        proc_stats::mib(cli)
    );
    println!(
        "| ssh ControlMaster (warm) | {mib} | {:.0} | not measured |",
        mib as f64 / ssh_secs
    );
}

fn drain(cmd: &mut Command) -> (f64, u64) {
    let t = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    assert!(child.wait().unwrap().success());
    (t.elapsed().as_secs_f64(), total)
}
