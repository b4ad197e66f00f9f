//! Booting the fake ARM's VMs here: when the emulator "creates" a VM,
//! [`Boot`] reads its custom data (the rendered cloud-config), downloads
//! the agent from the URL in it with curl and checks its sha256 as the
//! VM's install script would, writes the agent's config, CA and join
//! token as cloud-init would, and starts that downloaded agent at the VM's
//! loopback public address; deallocating stops it, starting runs it
//! again. A download that fails or does not match is recorded
//! ([`Boot::failures`]) and the VM's agent never starts. [`Halt`] stops
//! them all when a test ends.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
};

use base64::Engine as _;
use serde::Deserialize;

use super::emulator::VmHooks;

#[derive(Deserialize)]
struct CloudConfig {
    write_files: Vec<WriteFile>,
    runcmd: Vec<Vec<String>>,
}

#[derive(Deserialize)]
struct WriteFile {
    path: String,
    content: String,
}

/// Boots each created VM's agent on this machine, from its custom data.
#[derive(Clone, Default)]
pub struct Boot {
    root: Arc<Mutex<Option<PathBuf>>>,
    agents: Arc<Mutex<BTreeMap<String, Child>>>,
    /// Each VM's user-data as the emulator received it.
    pub user_data: Arc<Mutex<BTreeMap<String, String>>>,
    /// VMs whose agent could not be installed, and why.
    pub failures: Arc<Mutex<BTreeMap<String, String>>>,
    /// The `shared_home` each VM's agent config named (`new
    /// --nfs-storage`). Taken out of the config before the agent starts:
    /// an agent here is on this machine, whose homes it must not mount
    /// over, so it runs with its home local.
    pub shared_homes: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Boot {
    /// Where the VMs' folders go (put it in the test's azlin home, whose
    /// cleanup then covers them).
    pub fn set_root(&self, root: PathBuf) {
        *self.root.lock().unwrap() = Some(root);
    }

    fn dir(&self, vm: &str) -> PathBuf {
        self.root.lock().unwrap().clone().unwrap().join(vm)
    }

    fn run(&self, vm: &str) {
        let dir = self.dir(vm);
        let log = std::fs::File::create(dir.join("agent.log")).unwrap();
        let child = Command::new(dir.join("azlin-agent"))
            .args(["run", "--config"])
            .arg(dir.join("agent.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.agents.lock().unwrap().insert(vm.to_string(), child);
    }

    fn halt(&self, vm: &str) {
        if let Some(mut c) = self.agents.lock().unwrap().remove(vm) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What the VM's install-agent does: download `url` with curl, check its
/// sha256, make it executable.
fn install(dir: &std::path::Path, url: &str, sha256: &str) -> Result<(), String> {
    let target = dir.join("azlin-agent");
    let out = Command::new("curl")
        .args(["-fsS", "--max-time", "120", "-o"])
        .arg(&target)
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "curl failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let got = azlin_controller::provider::docker::agent_download::sha256_file(&target)
        .map_err(|e| format!("{e:#}"))?;
    if got != sha256 {
        let _ = std::fs::remove_file(&target);
        return Err(format!("sha256 {got}, expected {sha256}"));
    }
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())
}

impl VmHooks for Boot {
    fn created(&mut self, vm: &str, custom_data: &str, public_ip: &str) {
        let text = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(custom_data)
                .expect("custom data is base64"),
        )
        .unwrap();
        self.user_data
            .lock()
            .unwrap()
            .insert(vm.into(), text.clone());
        let config: CloudConfig =
            serde_saphyr::from_str(&text).expect("the custom data is a cloud-config");
        let file = |p: &str| {
            config
                .write_files
                .iter()
                .find(|f| f.path == p)
                .unwrap_or_else(|| panic!("no {p} in the user-data"))
                .content
                .clone()
        };
        assert!(config.runcmd[0][0].ends_with("install-agent"));
        let dir = self.dir(vm);
        std::fs::create_dir_all(dir.join("state")).unwrap();
        if let Err(why) = install(&dir, &config.runcmd[0][1], &config.runcmd[0][2]) {
            self.failures.lock().unwrap().insert(vm.into(), why);
            return;
        }
        std::fs::create_dir_all(dir.join("home")).unwrap();
        std::fs::write(dir.join("ca.crt"), file("/etc/azlin/ca.crt")).unwrap();
        std::fs::write(dir.join("join-token"), file("/etc/azlin/join-token")).unwrap();
        let mut agent: toml::Table = toml::from_str(&file("/etc/azlin/agent.toml")).unwrap();
        assert_eq!(agent["connect"]["listen"].as_str(), Some("0.0.0.0:47800"));
        if let Some(toml::Value::String(export)) = agent.remove("shared_home") {
            self.shared_homes.lock().unwrap().insert(vm.into(), export);
        }
        let at = |p: &str| toml::Value::String(dir.join(p).display().to_string());
        agent.insert("state_dir".into(), at("state"));
        agent.insert("ca_cert".into(), at("ca.crt"));
        agent.insert("join_token_file".into(), at("join-token"));
        let me = nix::unistd::User::from_uid(nix::unistd::getuid())
            .unwrap()
            .unwrap()
            .name;
        agent.insert("user".into(), toml::Value::String(me));
        agent["connect"].as_table_mut().unwrap().insert(
            "listen".into(),
            toml::Value::String(format!("{public_ip}:47800")),
        );
        let mut files = toml::Table::new();
        files.insert("home".into(), at("home"));
        agent.insert("files".into(), toml::Value::Table(files));
        std::fs::write(dir.join("agent.toml"), toml::to_string(&agent).unwrap()).unwrap();
        self.run(vm);
    }

    fn power(&mut self, vm: &str, running: bool) {
        // A VM made behind azlin's back was never booted here.
        if !self.dir(vm).join("azlin-agent").exists() {
            return;
        }
        if running {
            self.run(vm);
        } else {
            self.halt(vm);
        }
    }

    fn deleted(&mut self, vm: &str) {
        self.halt(vm);
    }
}

/// Stops every booted agent when the test ends, however it ends (the
/// emulator keeps a `Boot` of its own for as long as the fake runs).
pub struct Halt(pub Boot);

impl Drop for Halt {
    fn drop(&mut self) {
        for (_, mut c) in std::mem::take(&mut *self.0.agents.lock().unwrap()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
