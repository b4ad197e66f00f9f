//! Systemd containers standing in for the emulated ARM's Azure VMs, where
//! a test needs a whole system (its own systemd, users, sshd) rather than
//! an agent process ([`super::boot`]): Run Command runs its script in the
//! VM's container, a snapshot of a VM's OS disk is an image committed
//! from its container (without pausing it: Azure's snapshots are taken
//! while the VM runs), a disk copied from a snapshot is that image, and a
//! VM made by attaching such a disk boots a new container from it, with
//! a machine UUID of its own, on the network its source is on.
//!
//! The machine UUID: this host's kernel shows no DMI, so each container
//! gets a file of its own at [`MACHINE_UUID`] (a bind mount, so never in
//! a committed image) and a systemd drop-in that points the agent at it
//! through `AZLIN_MACHINE_UUID_FILE`, as Azure's DMI product UUID would
//! name the VM.
//!
//! Containers carry the test home's label, so `DockerEnv` removes them and
//! the committed images when the test ends.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use super::{
    blob::FakeBlob,
    emulator::{Emulator, VmHooks},
    fake::FakeArm,
};
use crate::docker::{DockerEnv, docker, docker_ok, test_network_gateway};
use azlin_controller::provider::docker::SYSTEMD_AS_INIT;

/// Where a stand-in's machine UUID is, inside it.
pub const MACHINE_UUID: &str = "/etc/stand-in/machine-uuid";

#[derive(Default)]
struct Inner {
    /// VM (as the hooks name it) → its container.
    containers: BTreeMap<String, String>,
    /// Snapshot name → the image committed for it.
    snapshots: BTreeMap<String, String>,
    /// Disk name → the image it holds.
    disks: BTreeMap<String, String>,
    /// VMs booted from a disk.
    from_disk: std::collections::BTreeSet<String>,
    /// For VMs booted from a disk: the agent's log at the moment Run
    /// Command first reached the VM.
    agent_before_run_command: BTreeMap<String, String>,
    /// What every stand-in is booted with.
    network: String,
    home: PathBuf,
    /// Where the machine UUID files live on this host.
    uuids: PathBuf,
}

/// The stand-ins of one test (cheap to clone: one set, shared with the
/// emulator).
#[derive(Clone, Default)]
pub struct StandIns(Arc<Mutex<Inner>>);

/// `env`'s Azure: the subscription `sub`, resource group `theirs` in
/// westus2, agents admitted from 203.0.113.7, the emulated ARM with these
/// stand-ins as its VMs, and a strict fake Blob endpoint on the test
/// network's gateway (where the stand-ins reach this machine, given too).
pub fn emulated_azure(
    env: &mut DockerEnv,
    sub: &str,
    stand_ins: &StandIns,
) -> (FakeArm, FakeBlob, String) {
    let gateway = test_network_gateway();
    let blob = FakeBlob::start_on(&gateway);
    let fake = FakeArm::emulating(
        Emulator::new(1, Some(Box::new(stand_ins.clone()))).with_blob(blob.clone()),
    );
    env.configure(&format!(
        "[azure]\nsubscription = \"{sub}\"\nresource_group = \"theirs\"\nlocation = \"westus2\"\n\
         allowed_cidr = \"203.0.113.7/32\"\n"
    ));
    env.set_var("AZLIN_ARM_ENDPOINT", fake.base());
    env.set_var("AZLIN_ARM_TOKEN", "test-token");
    env.set_var("AZLIN_RETAIL_PRICES_ENDPOINT", fake.base());
    (fake, blob, gateway)
}

impl StandIns {
    /// Stand-ins on `network` (the test network, made if missing, when
    /// it is that), labelled for `env`'s home.
    pub fn new(env: &DockerEnv, network: &str) -> Self {
        if network == crate::docker::TEST_NETWORK {
            test_network_gateway();
        }
        let uuids = env.home().join("stand-in-uuids");
        std::fs::create_dir_all(&uuids).unwrap();
        Self(Arc::new(Mutex::new(Inner {
            network: network.to_string(),
            home: env.home().to_path_buf(),
            uuids,
            ..Default::default()
        })))
    }

    /// Boot a VM azlin did not make from `image` on `network` (`None`: the
    /// stand-ins' own), with the user `them` its owner made and no agent;
    /// with a machine UUID when `uuid`. Its container and address.
    pub fn boot(
        &self,
        image: &str,
        vm: &str,
        network: Option<&str>,
        uuid: bool,
    ) -> (String, String) {
        let container = self.run(image, vm, network, uuid);
        docker_ok(&[
            "exec",
            &container,
            "useradd",
            "-m",
            "-s",
            "/bin/bash",
            "them",
        ]);
        let ip = address(&container);
        (container, ip)
    }

    /// The container standing in for `vm`.
    pub fn container(&self, vm: &str) -> Option<String> {
        self.0.lock().unwrap().containers.get(vm).cloned()
    }

    /// The agent's log on `vm` (booted from a disk) when Run Command
    /// first reached it.
    pub fn agent_before_run_command(&self, vm: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap()
            .agent_before_run_command
            .get(vm)
            .cloned()
    }

    /// Start a container for `vm` from `image` and wait for its systemd.
    fn run(&self, image: &str, vm: &str, network: Option<&str>, uuid: bool) -> String {
        let (home, net, uuids) = {
            let i = self.0.lock().unwrap();
            (i.home.clone(), i.network.clone(), i.uuids.clone())
        };
        let container = format!("azlin-stand-in-{vm}-{}", std::process::id());
        let mut args: Vec<String> = [
            "run",
            "--detach",
            "--name",
            &container,
            "--hostname",
            vm,
            "--network",
            network.unwrap_or(&net),
            "--label",
            &format!("azlin.home={}", home.display()),
            "--label",
            &format!("azlin.vm={vm}"),
        ]
        .into_iter()
        .chain(SYSTEMD_AS_INIT)
        .map(String::from)
        .collect();
        if uuid {
            let dir = uuids.join(vm);
            std::fs::create_dir_all(&dir).unwrap();
            let id = format!(
                "{:08x}-0000-4000-8000-{:012x}",
                std::process::id(),
                rand_u64() & 0xffff_ffff_ffff
            );
            std::fs::write(dir.join("machine-uuid"), format!("{id}\n")).unwrap();
            args.push("--volume".into());
            args.push(format!(
                "{}:{}:ro",
                dir.display(),
                MACHINE_UUID.rsplit_once('/').unwrap().0
            ));
        }
        args.push(image.to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker_ok(&args);
        let drop_in = format!(
            "mkdir -p /etc/systemd/system/azlin-agent.service.d && printf '[Service]\\nEnvironment=AZLIN_MACHINE_UUID_FILE={MACHINE_UUID}\\n' > /etc/systemd/system/azlin-agent.service.d/machine.conf"
        );
        docker_ok(&[
            "exec",
            &container,
            "sh",
            "-c",
            &format!(
                "timeout 120 sh -c 'until systemctl is-system-running 2>/dev/null | grep -qE \"running|degraded\"; do sleep 0.2; done'{}",
                if uuid {
                    format!("; {drop_in}")
                } else {
                    String::new()
                }
            ),
        ]);
        self.0
            .lock()
            .unwrap()
            .containers
            .insert(vm.to_string(), container.clone());
        container
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// A container's address on its network.
pub fn address(container: &str) -> String {
    docker_ok(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        container,
    ])
    .trim()
    .to_string()
}

impl VmHooks for StandIns {
    fn created(&mut self, _: &str, _: &str, _: &str) {}
    fn power(&mut self, _: &str, _: bool) {}

    fn deleted(&mut self, vm: &str) {
        if let Some(c) = self.0.lock().unwrap().containers.remove(vm) {
            let _ = docker(&["rm", "--force", &c]);
        }
    }

    fn run_command(&mut self, vm: &str, script: &[String]) -> Option<(String, String)> {
        let container = self.container(vm)?;
        let booted_from_disk = {
            let i = self.0.lock().unwrap();
            i.from_disk.contains(vm) && !i.agent_before_run_command.contains_key(vm)
        };
        if booted_from_disk {
            let log = docker(&[
                "exec",
                &container,
                "journalctl",
                "--no-pager",
                "-u",
                "azlin-agent.service",
            ]);
            self.0.lock().unwrap().agent_before_run_command.insert(
                vm.to_string(),
                String::from_utf8_lossy(&log.stdout).into_owned(),
            );
        }
        let out = docker(&["exec", &container, "sh", "-c", &script.join("\n")]);
        Some((
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    fn snapshot_taken(&mut self, vm: Option<&str>, _disk: &str, snapshot: &str) {
        let Some(container) = vm.and_then(|vm| self.container(vm)) else {
            return;
        };
        let image = format!("azlin-stand-in:{}", snapshot.to_ascii_lowercase());
        docker_ok(&["commit", "--pause=false", &container, &image]);
        self.0
            .lock()
            .unwrap()
            .snapshots
            .insert(snapshot.to_string(), image);
    }

    fn disk_copied(&mut self, snapshot: &str, disk: &str) {
        let mut i = self.0.lock().unwrap();
        if let Some(image) = i
            .snapshots
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(snapshot))
            .map(|(_, image)| image.clone())
        {
            i.disks.insert(disk.to_string(), image);
        }
    }

    fn attached(&mut self, vm: &str, os_disk: &str, _public_ip: &str) -> Option<String> {
        let image = self.0.lock().unwrap().disks.get(os_disk).cloned()?;
        let container = self.run(&image, vm, None, true);
        self.0.lock().unwrap().from_disk.insert(vm.to_string());
        Some(address(&container))
    }
}
