//! The docker provider: each VM is a container from the image that
//! `deploy/vm-image/build.sh` builds (Debian with systemd as PID 1 and the
//! real cloud-init). The container gets the VM's cloud-init user-data as a
//! NoCloud seed; cloud-init creates the user, downloads the agent from this
//! daemon ([`agent_download`]), checks its hash, writes the join token and
//! starts the agent's systemd unit, exactly as on an Azure VM. The agent
//! listens on its default port on the container's own address.
//!
//! Containers are named `azlin-<home>-<vm>` (`<home>` is a hash of the
//! azlin home folder) so two azlin homes on one machine never collide.

pub mod agent_download;
pub mod engine;
pub mod ganesha;
mod snapshot;
mod storage;

use std::{
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
};

use anyhow::{Context, Result, anyhow, bail};
use azlin_cloud_init::{UserData, render};
use azlin_protocol::{DEFAULT_AGENT_PORT, secret_file::write_atomic};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use self::{
    agent_download::AgentDownload,
    engine::{docker, docker_maybe},
};
use super::{
    AgentConnect, Capabilities, Kind, NewStyle, Provider, Provisioned, Stage, Started, VmSpec,
    Work, local::find_agent_binary,
};
use crate::{azure::context::AzureContext, config::DockerConfig, home::Home, state::VmRow};

/// A container stops and starts but has no allocation to keep and no size.
pub const CAPABILITIES: Capabilities = Capabilities {
    new: NewStyle::Provision,
    max_pool: 100,
    power: true,
    keep_allocated: false,
    resize: false,
    dial: true,
    dev_tools: true,
    azure_target: false,
    machine: false,
    adopt: false,
    agent_upgrade: true,
    cost: false,
    storage: true,
    snapshots: true,
    clone: true,
    own_sshd: true,
    cloud_init: true,
};

impl Provider for DockerProvider {
    fn kind(&self) -> Kind {
        Kind::Docker
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn ready_timeout(&self, pool: u32) -> std::time::Duration {
        // A container boots and runs cloud-init first.
        std::time::Duration::from_secs(120 + 4 * u64::from(pool))
    }

    fn create<'a>(
        &'a self,
        spec: &'a VmSpec,
        _azure: &'a AzureContext,
        stage: Stage<'a>,
    ) -> Work<'a, Result<Provisioned>> {
        Box::pin(self.create(spec, stage))
    }

    fn start<'a>(&'a self, vm: &'a VmRow, _azure: &'a AzureContext) -> Work<'a, Result<Started>> {
        Box::pin(async move {
            let (provider_data, address) = self.start(vm).await?;
            Ok(Started {
                provider_data,
                address,
            })
        })
    }

    fn stop<'a>(
        &'a self,
        vm: &'a VmRow,
        _keep_allocated: bool,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(self.stop(vm))
    }

    fn delete<'a>(&'a self, vm: &'a VmRow, _azure: &'a AzureContext) -> Work<'a, Result<()>> {
        Box::pin(self.delete(vm))
    }

    fn deletions(&self, vm: &VmRow) -> Result<Vec<String>> {
        Ok(vec![
            format!("container {}", self.container_name(&vm.name)),
            format!("cloud-init seed {}", self.vm_dir(&vm.name)?.display()),
        ])
    }

    fn current_address<'a>(&'a self, vm: &'a VmRow) -> Work<'a, Option<String>> {
        Box::pin(self.current_address(vm))
    }

    fn log_tail<'a>(&'a self, vm: &'a VmRow) -> Work<'a, String> {
        Box::pin(self.log_tail(vm))
    }

    fn storage(&self) -> Option<&dyn crate::provider::storage::SharedStorage> {
        Some(self)
    }

    fn snapshots(&self) -> Option<&dyn crate::provider::snapshots::Snapshots> {
        Some(self)
    }
}

/// The repository name of the images `deploy/vm-image/build.sh` makes.
pub const IMAGE_REPOSITORY: &str = "azlin-vm";

/// `docker run`'s options for a container whose PID 1 is systemd: it
/// shuts down on SIGRTMIN+3 and needs its own /run and the cgroup tree.
pub const SYSTEMD_AS_INIT: [&str; 8] = [
    "--stop-signal",
    "SIGRTMIN+3",
    "--tmpfs",
    "/run",
    "--tmpfs",
    "/run/lock",
    "--volume",
    "/sys/fs/cgroup:/sys/fs/cgroup:ro",
];

pub struct DockerProvider {
    home: Home,
    config: DockerConfig,
    /// Started on first use: a daemon without docker VMs opens no port.
    download: Mutex<Option<AgentDownload>>,
    /// Held while the shared network is checked or made: a pool's VMs
    /// would otherwise all try to create it, and docker refuses all but
    /// the first with "Pool overlaps".
    network_setup: Mutex<()>,
}

/// What `state.db` keeps about a docker VM.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DockerData {
    pub container: String,
    pub image: String,
    #[serde(default)]
    pub ip: Option<String>,
}

impl DockerProvider {
    pub fn new(home: Home, config: DockerConfig) -> Self {
        Self {
            home,
            config,
            download: Mutex::new(None),
            network_setup: Mutex::new(()),
        }
    }

    /// The container name of `vm` for this azlin home.
    pub fn container_name(&self, vm: &str) -> String {
        format!("azlin-{}-{vm}", self.home_tag())
    }

    /// A short hash of the azlin home folder, in names docker keeps.
    fn home_tag(&self) -> String {
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            self.home.root().as_os_str().as_encoded_bytes(),
        );
        let tag: String = digest.as_ref()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        tag
    }

    /// The VM's folder, which holds its cloud-init seed.
    pub fn vm_dir(&self, vm: &str) -> Result<PathBuf> {
        self.home.docker_vm_dir(vm)
    }

    /// Create the container and boot it; cloud-init does the rest.
    pub async fn create(&self, spec: &VmSpec, stage: Stage<'_>) -> Result<Provisioned> {
        let gateway = self.ensure_network().await?;
        let image = match &spec.source {
            // A clone runs from its own tag of the shared clone image, so
            // the shared one can go once every clone is made.
            Some(source) => {
                let source: snapshot::DockerCloneSource = serde_json::from_str(source)
                    .context("a clone's source is not a docker VM's")?;
                let own = format!(
                    "{}:{}-{}",
                    snapshot::CLONE_REPOSITORY,
                    self.home_tag(),
                    spec.name
                );
                docker(["tag", &source.image, &own]).await?;
                own
            }
            None => self.image().await?,
        };
        let (url, sha256) = self.agent_download(gateway).await?;
        let connect = match &spec.connect {
            AgentConnect::Listen => azlin_cloud_init::AgentConnect::Listen {
                port: DEFAULT_AGENT_PORT,
            },
            AgentConnect::Dial { controller } => {
                let loopback = controller
                    .rsplit_once(':')
                    .and_then(|(h, _)| h.parse::<IpAddr>().ok())
                    .is_some_and(|ip| ip.is_loopback());
                if loopback {
                    bail!(
                        "containers cannot reach the daemon at {controller}: set [daemon] listen \
                         to an address they reach (such as the docker network's gateway, \
                         {gateway}) or use listen mode (no --dial)"
                    );
                }
                azlin_cloud_init::AgentConnect::Dial {
                    controller: controller.clone(),
                }
            }
        };
        let user_data = render(&UserData {
            name: spec.name.clone(),
            user: self.config.user.clone(),
            ssh_public_key: crate::ssh_key::ensure(&self.home)?,
            agent_url: url,
            agent_sha256: sha256,
            ca_pem: spec.ca_pem.clone(),
            join_token: spec.token.clone(),
            connect,
            dev_tools: spec.dev_tools && self.config.dev_tools,
            shared_home: spec.shared_home.clone(),
            extra: spec.cloud_init_extra.clone(),
        })
        .context("cannot render the VM's cloud-init user-data")?;
        let seed = self.vm_dir(&spec.name)?.join("seed");
        std::fs::create_dir_all(&seed)
            .with_context(|| format!("cannot create {}", seed.display()))?;
        write_atomic(&seed.join("user-data"), user_data.as_bytes(), 0o600)?;
        let instance = azlin_protocol::enroll::JoinToken::generate()?.id_hex();
        let meta = format!(
            "instance-id: {}-{}\nlocal-hostname: {}\n",
            spec.name,
            &instance[..12],
            spec.name
        );
        write_atomic(&seed.join("meta-data"), meta.as_bytes(), 0o600)?;

        let container = self.container_name(&spec.name);
        // A container left by an earlier VM of this name (deleted while
        // docker was down) would hold the name.
        docker_maybe(["rm", "-f", "-v", &container]).await?;
        let mut args = vec!["run".to_string(), "--detach".to_string()];
        args.extend(self.container_args(&spec.name, &container, spec.shared_home.is_some())?);
        args.push(image.clone());
        docker(args)
            .await
            .with_context(|| format!("cannot start a container for {}", spec.name))?;
        if spec.shared_home.is_some() {
            stage(
                "its container may mount NFS (CAP_SYS_ADMIN, AppArmor unconfined): its home is \
                 on shared storage"
                    .into(),
            );
        }
        let ip = self.ip(&container).await?;
        let data = DockerData {
            container,
            image,
            ip: Some(ip.clone()),
        };
        Ok(Provisioned {
            address: Some(format!("{ip}:{DEFAULT_AGENT_PORT}")),
            provider_data: serde_json::to_string(&data)?,
        })
    }

    /// `docker run`'s options (before the image) for VM `vm`'s container
    /// `container`: its network, labels, systemd's needs and its
    /// cloud-init seed.
    fn container_args(&self, vm: &str, container: &str, nfs: bool) -> Result<Vec<String>> {
        let seed = self.vm_dir(vm)?.join("seed");
        let mut args: Vec<String> = [
            "--name",
            container,
            "--hostname",
            vm,
            "--network",
            &self.config.network,
            "--label",
            &format!("azlin.vm={vm}"),
            "--label",
            &format!("azlin.home={}", self.home.root().display()),
            "--volume",
            &format!("{}:/var/lib/cloud/seed/nocloud:ro", seed.display()),
        ]
        .into_iter()
        .chain(SYSTEMD_AS_INIT)
        .map(String::from)
        .collect();
        // A VM whose home is on shared storage mounts NFS, which a
        // container may do only with CAP_SYS_ADMIN and without the
        // engine's AppArmor profile (which denies mount): granted to those
        // VMs alone, and said at creation.
        if nfs {
            args.extend(
                [
                    "--cap-add",
                    "SYS_ADMIN",
                    "--security-opt",
                    "apparmor=unconfined",
                ]
                .map(String::from),
            );
        }
        Ok(args)
    }

    /// Start the VM's container again; its agent (enabled in systemd)
    /// comes back with its key and certificate, no new enrollment.
    pub async fn start(&self, vm: &VmRow) -> Result<(String, Option<String>)> {
        let mut data = data_of(vm)?;
        docker(["start", &data.container])
            .await
            .with_context(|| format!("cannot start {}", vm.name))?;
        let ip = self.ip(&data.container).await?;
        data.ip = Some(ip.clone());
        Ok((
            serde_json::to_string(&data)?,
            Some(format!("{ip}:{DEFAULT_AGENT_PORT}")),
        ))
    }

    /// The agent's address now, if the container is up on the network.
    pub async fn current_address(&self, vm: &VmRow) -> Option<String> {
        let data = data_of(vm).ok()?;
        let ip = self.ip(&data.container).await.ok()?;
        Some(format!("{ip}:{DEFAULT_AGENT_PORT}"))
    }

    /// Shut the container down cleanly (systemd stops the agent).
    pub async fn stop(&self, vm: &VmRow) -> Result<()> {
        let data = data_of(vm)?;
        docker_maybe(["stop", "--time", "10", &data.container])
            .await
            .with_context(|| format!("cannot stop {}", vm.name))?;
        Ok(())
    }

    /// Remove the container, its anonymous volumes, the image a restore
    /// made it from and its seed.
    pub async fn delete(&self, vm: &VmRow) -> Result<()> {
        if let Ok(data) = data_of(vm) {
            docker_maybe(["rm", "--force", "--volumes", &data.container]).await?;
            let own_image = [snapshot::RESTORED_REPOSITORY, snapshot::CLONE_REPOSITORY]
                .iter()
                .any(|repo| data.image.starts_with(&format!("{repo}:")));
            if own_image {
                // Still used by a container a restore set aside: kept.
                let _ = docker_maybe(["image", "rm", &data.image]).await;
            }
        }
        let dir = self.vm_dir(&vm.name)?;
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot remove {}", dir.display())),
        }
    }

    /// The end of cloud-init's output in the container, or why the
    /// container is not running, for error messages.
    pub async fn log_tail(&self, vm: &VmRow) -> String {
        let Ok(data) = data_of(vm) else {
            return String::new();
        };
        let state = docker([
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.ExitCode}}",
            &data.container,
        ])
        .await
        .unwrap_or_default();
        let mut words = state.split_whitespace();
        let (status, code) = (words.next().unwrap_or("gone"), words.next().unwrap_or("?"));
        if status != "running" {
            let hint = if code == "255" {
                "; systemd stops at boot when the host is out of inotify instances: raise \
                 fs.inotify.max_user_instances (sysctl) to run many docker VMs"
            } else {
                ""
            };
            return format!(
                "container {} is {status} (exit code {code}){hint}",
                data.container
            );
        }
        docker([
            "exec",
            &data.container,
            "tail",
            "-n",
            "8",
            "/var/log/cloud-init-output.log",
        ])
        .await
        .unwrap_or_else(|e| format!("{e:#}"))
    }

    async fn ip(&self, container: &str) -> Result<String> {
        let format = format!(
            "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
            self.config.network
        );
        let out = docker(["inspect", "--format", &format, container]).await?;
        let ip = out.trim();
        ip.parse::<IpAddr>().map(|_| ip.to_string()).map_err(|_| {
            anyhow!(
                "{container} has no address on the docker network {}",
                self.config.network
            )
        })
    }

    /// The network the VMs share, created with the configured subnet when
    /// missing; returns its gateway address.
    async fn ensure_network(&self) -> Result<IpAddr> {
        let _one_at_a_time = self.network_setup.lock().await;
        let net = &self.config.network;
        let inspect = [
            "network",
            "inspect",
            "--format",
            "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{end}}",
            net,
        ];
        let out = match docker_maybe(inspect).await? {
            Some(out) => out,
            None => {
                let gateway = first_host(&self.config.subnet)?;
                let created = docker([
                    "network",
                    "create",
                    "--driver",
                    "bridge",
                    "--subnet",
                    &self.config.subnet,
                    "--gateway",
                    &gateway.to_string(),
                    net,
                ])
                .await;
                // Another daemon may have created it a moment ago (docker
                // then says "already exists" or "Pool overlaps"): use it.
                match (created, docker_maybe(inspect).await?) {
                    (_, Some(out)) => out,
                    (Err(e), None) => {
                        return Err(e.context(format!(
                            "cannot create the docker network {net} ({}); set docker.subnet to a free range",
                            self.config.subnet
                        )));
                    }
                    (Ok(_), None) => bail!("docker created the network {net} but cannot show it"),
                }
            }
        };
        gateway_of(&out).ok_or_else(|| {
            anyhow!(
                "the docker network {net} has no IPv4 subnet; remove it (docker network rm {net}) \
                 and let azlin create it, or set docker.network"
            )
        })
    }

    /// The configured image, or the newest local `azlin-vm` image.
    async fn image(&self) -> Result<String> {
        newest_image(
            self.config.image.as_deref(),
            IMAGE_REPOSITORY,
            "deploy/vm-image/build.sh",
            "docker.image",
        )
        .await
    }

    /// The docker network's IPv4 subnet (made if missing), as a CIDR.
    pub(super) async fn network_cidr(&self) -> Result<String> {
        self.ensure_network().await?;
        let net = &self.config.network;
        let out = docker([
            "network",
            "inspect",
            "--format",
            "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
            net,
        ])
        .await?;
        out.split_whitespace()
            .find(|w| {
                w.split_once('/')
                    .is_some_and(|(ip, _)| ip.parse::<Ipv4Addr>().is_ok())
            })
            .map(String::from)
            .ok_or_else(|| anyhow!("the docker network {net} has no IPv4 subnet"))
    }

    async fn agent_download(&self, gateway: IpAddr) -> Result<(String, String)> {
        let mut slot = self.download.lock().await;
        let binary = find_agent_binary()?;
        let stale = match slot.as_ref() {
            None => true,
            // A rebuilt binary is served at its new hash.
            Some(d) => {
                agent_download::sha256_file(&binary)? != d.sha256
                    || !d.url.contains(&gateway.to_string())
            }
        };
        if stale {
            *slot = Some(AgentDownload::start(gateway, binary).await?);
        }
        let d = slot.as_ref().expect("just set");
        Ok((d.url.clone(), d.sha256.clone()))
    }
}

/// The gateway from `SUBNET GATEWAY` pairs; docker leaves the gateway
/// empty when the network was made with a subnet alone, and then it is the
/// subnet's first host.
fn gateway_of(inspect: &str) -> Option<IpAddr> {
    let words: Vec<&str> = inspect.split_whitespace().collect();
    if let Some(ip) = words.iter().find_map(|w| w.parse::<Ipv4Addr>().ok()) {
        return Some(IpAddr::V4(ip));
    }
    words
        .iter()
        .find_map(|w| first_host(w).ok())
        .map(IpAddr::V4)
}

/// `configured`, else the newest local image of `repository`, else how to
/// build one (`script`) or name one (`key` in config.toml).
async fn newest_image(
    configured: Option<&str>,
    repository: &str,
    script: &str,
    key: &str,
) -> Result<String> {
    if let Some(image) = configured {
        return Ok(image.to_string());
    }
    let out = docker(["images", "--format", "{{.Repository}}:{{.Tag}}", repository]).await?;
    out.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.ends_with(":<none>"))
        .map(String::from)
        .ok_or_else(|| {
            anyhow!(
                "no {repository} image: build it with {script} (as root, needs debootstrap), or \
                 set {key} in config.toml"
            )
        })
}

/// The first host address of an IPv4 CIDR.
fn first_host(cidr: &str) -> Result<Ipv4Addr> {
    let (ip, len) = cidr
        .split_once('/')
        .ok_or_else(|| anyhow!("{cidr} is not a CIDR"))?;
    let ip: Ipv4Addr = ip
        .parse()
        .with_context(|| format!("{cidr} is not a CIDR"))?;
    let len: u32 = len
        .parse()
        .with_context(|| format!("{cidr} is not a CIDR"))?;
    if len > 30 {
        bail!("{cidr} is too small for a network of VMs");
    }
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    Ok(Ipv4Addr::from((u32::from(ip) & mask) + 1))
}

fn data_of(vm: &VmRow) -> Result<DockerData> {
    serde_json::from_str(&vm.provider_data).with_context(|| {
        format!(
            "{} has no container recorded; delete it with azlin kill",
            vm.name
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_is_read_or_derived_from_the_subnet() {
        assert_eq!(
            first_host("10.213.7.9/16").unwrap(),
            Ipv4Addr::new(10, 213, 0, 1)
        );
        assert_eq!(
            gateway_of("10.213.0.0/16 10.213.0.1 "),
            Some("10.213.0.1".parse().unwrap())
        );
        assert_eq!(
            gateway_of("10.213.0.0/16  "),
            Some("10.213.0.1".parse().unwrap())
        );
        assert_eq!(gateway_of("fd00::/64  "), None);
        assert!(first_host("10.0.0.0/31").is_err());
    }
}
