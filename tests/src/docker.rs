//! Containers for the docker-provider tests: the VM image the current
//! recipe builds (`deploy/vm-image/build.sh`), an [`Env`] configured to use
//! it on a network of the tests' own, and cleanup of every container the
//! test's azlin home made, even when the test fails, and of the network
//! once the last test using it is done.

use std::{
    ops::Deref,
    path::PathBuf,
    process::{Command, Output},
    sync::Mutex,
};

use crate::Env;

/// The docker network (and its subnet) the tests' VMs use, apart from a
/// user's own `azlin` network.
pub const TEST_NETWORK: &str = "azlin-e2e";
pub const TEST_SUBNET: &str = "10.214.0.0/16";

/// The image tag `deploy/{dir}/build.sh` builds now, which must be there
/// (`tests/run-all` builds it).
fn built(dir: &str) -> String {
    let recipe =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../deploy/{dir}/build.sh"));
    let out = Command::new("bash")
        .arg(&recipe)
        .arg("--print-tag")
        .output()
        .expect("run build.sh --print-tag");
    let tag = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !tag.is_empty(),
        "no image tag from {dir}"
    );
    let present = Command::new("docker")
        .args(["image", "inspect", &tag])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        present,
        "the image {tag} is missing: build it with `sudo deploy/{dir}/build.sh` (needs \
         debootstrap and Docker; `bash tests/run-all` does), or set \
         AZLIN_SKIP_DOCKER_TESTS=1 to skip these tests"
    );
    tag
}

/// The VM image of the current recipe. Without it the docker tests fail,
/// unless AZLIN_SKIP_DOCKER_TESTS=1 says to skip them on a machine
/// without Docker: then `None`.
pub fn image() -> Option<String> {
    if std::env::var("AZLIN_SKIP_DOCKER_TESTS").as_deref() == Ok("1") {
        println!("skipped: AZLIN_SKIP_DOCKER_TESTS=1");
        return None;
    }
    Some(built("vm-image"))
}

/// The NFS server image of the current recipe (`deploy/nfs-image`).
pub fn nfs_image() -> String {
    built("nfs-image")
}

/// `docker ARGS`.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

/// `docker ARGS`, which must succeed; stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How many [`DockerEnv`]s of this process are alive: the network is
/// removed when the last one goes, never while another may be about to
/// put a container on it.
static LIVE: Mutex<usize> = Mutex::new(0);

/// An [`Env`] whose `azlin new --provider docker` makes containers from
/// the test image (on [`TEST_NETWORK`], which azlin creates when missing);
/// they are removed when it is dropped, and the network with the last one.
pub struct DockerEnv {
    env: Env,
    pub image: String,
}

impl DockerEnv {
    pub fn new(image: &str) -> Self {
        *LIVE.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let env = Env::new();
        env.configure(&format!(
            "[docker]\nimage = \"{image}\"\nnetwork = \"{TEST_NETWORK}\"\nsubnet = \"{TEST_SUBNET}\"\ndev_tools = false\n"
        ));
        Self {
            env,
            image: image.to_string(),
        }
    }

    /// The container of `vm`.
    pub fn container(&self, vm: &str) -> String {
        let home = format!("label=azlin.home={}", self.home().display());
        let name = format!("label=azlin.vm={vm}");
        let out = docker_ok(&[
            "ps",
            "-a",
            "--filter",
            &home,
            "--filter",
            &name,
            "--format",
            "{{.Names}}",
        ]);
        let names: Vec<&str> = out.lines().collect();
        assert_eq!(names.len(), 1, "one container for {vm}: {names:?}");
        names[0].to_string()
    }

    /// Every container this home has, running or not.
    pub fn containers(&self) -> Vec<String> {
        let home = format!("label=azlin.home={}", self.home().display());
        docker_ok(&["ps", "-a", "--filter", &home, "--format", "{{.Names}}"])
            .lines()
            .map(String::from)
            .collect()
    }

    /// `docker exec` in the VM's container, as root; stdout.
    pub fn exec(&self, vm: &str, script: &str) -> String {
        docker_ok(&["exec", &self.container(vm), "sh", "-c", script])
    }

    pub fn running(&self, vm: &str) -> bool {
        docker_ok(&[
            "inspect",
            "--format",
            "{{.State.Running}}",
            &self.container(vm),
        ])
        .trim()
            == "true"
    }
}

impl Deref for DockerEnv {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl std::ops::DerefMut for DockerEnv {
    fn deref_mut(&mut self) -> &mut Env {
        &mut self.env
    }
}

impl Drop for DockerEnv {
    fn drop(&mut self) {
        let home = format!("label=azlin.home={}", self.home().display());
        let names = docker(&["ps", "-a", "--filter", &home, "--format", "{{.Names}}"]);
        let names = String::from_utf8_lossy(&names.stdout);
        let names: Vec<&str> = names.lines().collect();
        if !names.is_empty() {
            let mut args = vec!["rm", "--force", "--volumes"];
            args.extend(names);
            let _ = docker(&args);
        }
        // Snapshot images carry the home's label.
        let images = docker(&["images", "--quiet", "--filter", &home]);
        let images = String::from_utf8_lossy(&images.stdout);
        let mut images: Vec<&str> = images.lines().collect();
        images.dedup();
        if !images.is_empty() {
            let mut args = vec!["rmi", "--force"];
            args.extend(images);
            let _ = docker(&args);
        }
        // Named volumes (a storage's files) carry the home's label too.
        let volumes = docker(&["volume", "ls", "--quiet", "--filter", &home]);
        let volumes = String::from_utf8_lossy(&volumes.stdout);
        let volumes: Vec<&str> = volumes.lines().collect();
        if !volumes.is_empty() {
            let mut args = vec!["volume", "rm", "--force"];
            args.extend(volumes);
            let _ = docker(&args);
        }
        // The last one out removes the network. Docker refuses while any
        // container is still on it (another process's tests, or a
        // container a test made by hand): then it stays, for them to
        // remove.
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        *live -= 1;
        if *live == 0 {
            let _ = docker(&["network", "rm", TEST_NETWORK]);
        }
    }
}

/// Make the test network (as the docker provider would, for tests with
/// no docker VM) and give the host's address on it: its gateway, which
/// Docker leaves out of the inspection when it chose it itself (the first
/// address of the subnet).
pub fn test_network_gateway() -> String {
    let _ = docker(&["network", "create", "--subnet", TEST_SUBNET, TEST_NETWORK]);
    let gateway = docker_ok(&[
        "network",
        "inspect",
        "--format",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        TEST_NETWORK,
    ])
    .trim()
    .to_string();
    if !gateway.is_empty() {
        return gateway;
    }
    let base = TEST_SUBNET.split('/').next().unwrap();
    let mut octets: Vec<u8> = base.split('.').map(|o| o.parse().unwrap()).collect();
    octets[3] = 1;
    format!("{}.{}.{}.{}", octets[0], octets[1], octets[2], octets[3])
}
