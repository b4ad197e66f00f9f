//! Shared NFS 4.1 storage on the docker provider: one container per
//! storage running nfs-ganesha (the image `deploy/nfs-image/build.sh`
//! builds) on the fleet's network, serving one export `/home`, root
//! squashed, to that network alone (`super::ganesha` writes its
//! configuration, copied in before it starts), its files in a docker
//! volume of its own (kept across restarts, removed with the storage).
//! The container runs under `super::ganesha::seccomp` with
//! `CAP_DAC_READ_SEARCH`: what the VFS backend needs (see there), and
//! each storage says so. Labelled with this azlin home and the storage's
//! name and size, so `list` finds them and never another home's.
//!
//! As a VM's home (`new --nfs-storage`), the export's root folder is
//! given to the VM user's uid inside the container, before the VM is made.
//!
//! Not here: mounting (the agent).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{
    DockerProvider,
    engine::{docker, docker_maybe},
    ganesha, newest_image,
};
use crate::{
    azure::context::AzureContext,
    ipc::new::Machine,
    provider::{
        Stage, Work,
        storage::{HomeShare, SharedStorage, StorageSpec},
    },
    storage::StorageInfo,
};

/// The repository name of the images `deploy/nfs-image/build.sh` makes.
pub const NFS_IMAGE_REPOSITORY: &str = "azlin-nfs";
const STORAGE_LABEL: &str = "azlin.storage";
const SIZE_LABEL: &str = "azlin.size_gib";
/// How long the server has to say it serves.
const READY_WITHIN: Duration = Duration::from_secs(30);
const HANDLES: &str = "its NFS server may open files by handle (name_to_handle_at, \
     open_by_handle_at, CAP_DAC_READ_SEARCH), as ganesha's VFS backend needs: on the docker \
     host's filesystem that holds its volume, a compromised server could read beyond it";

impl DockerProvider {
    fn storage_container(&self, name: &str) -> String {
        self.container_name(&format!("storage-{name}"))
    }

    fn home_label(&self) -> String {
        format!("azlin.home={}", self.home.root().display())
    }

    /// The labels of `container` (`None`: no such container).
    async fn storage_labels(
        &self,
        container: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>> {
        let Some(out) =
            docker_maybe(["inspect", "--format", "{{json .Config.Labels}}", container]).await?
        else {
            return Ok(None);
        };
        Ok(Some(serde_json::from_str(out.trim()).unwrap_or_default()))
    }

    async fn describe(&self, name: &str) -> Result<Option<StorageInfo>> {
        let container = self.storage_container(name);
        let Some(labels) = self.storage_labels(&container).await? else {
            return Ok(None);
        };
        if labels.get(STORAGE_LABEL).map(String::as_str) != Some(name) {
            return Ok(None);
        }
        let running = is_running(&container).await?;
        let mut notes = vec![HANDLES.to_string()];
        let ip = if running {
            self.ip(&container).await.ok()
        } else {
            notes.push(format!(
                "its server is not running: `docker start {container}` brings it back"
            ));
            None
        };
        let cidr = self.network_cidr().await.unwrap_or_else(|_| "?".into());
        Ok(Some(StorageInfo {
            name: name.to_string(),
            place: format!("container {container}"),
            region: None,
            export: format!(
                "{}:{}",
                ip.as_deref().unwrap_or("(not running)"),
                ganesha::PSEUDO
            ),
            size_gib: labels
                .get(SIZE_LABEL)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            used_bytes: None,
            root_squash: true,
            reachable_from: format!("only the docker network {} ({cidr})", self.config.network),
            notes,
        }))
    }

    async fn storage_check_free(&self, spec: &StorageSpec) -> Result<()> {
        let container = self.storage_container(&spec.name);
        match self.storage_labels(&container).await? {
            None => Ok(()),
            Some(l) if l.get(STORAGE_LABEL) == Some(&spec.name) => Ok(()),
            Some(_) => bail!(
                "a container {container} that is not azlin's storage {} is in the way; remove \
                 it or choose another name (nothing done)",
                spec.name
            ),
        }
    }

    async fn storage_create(&self, spec: &StorageSpec, stage: Stage<'_>) -> Result<StorageInfo> {
        if let Some(info) = self.describe(&spec.name).await? {
            return Ok(info);
        }
        let image = newest_image(
            self.config.nfs_image.as_deref(),
            NFS_IMAGE_REPOSITORY,
            "deploy/nfs-image/build.sh",
            "docker.nfs_image",
        )
        .await?;
        let cidr = self.network_cidr().await?;
        let container = self.storage_container(&spec.name);
        let storage_label = format!("{STORAGE_LABEL}={}", spec.name);
        let size_label = format!("{SIZE_LABEL}={}", spec.size_gib);
        let volume = format!("{container}-data:{}", ganesha::EXPORT_DIR);
        let profile = self.home.root().join("docker-nfs-seccomp.json");
        azlin_protocol::secret_file::write_atomic(&profile, ganesha::seccomp().as_bytes(), 0o644)
            .with_context(|| format!("cannot write {}", profile.display()))?;
        let seccomp = format!("seccomp={}", profile.display());
        // Labelled as the container is, so what finds this home's
        // containers finds its volumes too.
        docker([
            "volume",
            "create",
            "--label",
            &self.home_label(),
            &format!("{container}-data"),
        ])
        .await
        .with_context(|| format!("cannot make the volume of {}", spec.name))?;
        docker([
            "create",
            "--name",
            &container,
            "--network",
            &self.config.network,
            "--label",
            &self.home_label(),
            "--label",
            &storage_label,
            "--label",
            &size_label,
            "--restart",
            "unless-stopped",
            "--volume",
            &volume,
            "--cap-add",
            "DAC_READ_SEARCH",
            "--security-opt",
            &seccomp,
            &image,
        ])
        .await
        .with_context(|| format!("cannot create the NFS server of {}", spec.name))?;
        let made = async {
            let dir = tempfile::tempdir()?;
            let conf = dir.path().join("ganesha.conf");
            std::fs::write(&conf, ganesha::config(&cidr))?;
            docker([
                "cp",
                &conf.display().to_string(),
                &format!("{container}:/etc/ganesha/ganesha.conf"),
            ])
            .await?;
            docker(["start", &container]).await?;
            self.wait_serving(&container).await
        }
        .await;
        if let Err(e) = made {
            docker_maybe(["rm", "--force", &container]).await.ok();
            docker_maybe(["volume", "rm", &format!("{container}-data")])
                .await
                .ok();
            return Err(e.context(format!("the NFS server of {} did not start", spec.name)));
        }
        stage(format!(
            "NFS 4.1 server {container} exports {} ({} GiB, root squashed) to {cidr} only",
            ganesha::PSEUDO,
            spec.size_gib
        ));
        self.describe(&spec.name)
            .await?
            .context("the storage container went as soon as it started")
    }

    /// Until ganesha logs that it serves; its last lines if it stops.
    async fn wait_serving(&self, container: &str) -> Result<()> {
        let started = Instant::now();
        loop {
            let out = tokio::process::Command::new("docker")
                .args(["logs", container])
                .output()
                .await
                .context("cannot run docker")?;
            let log = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if log.contains(ganesha::READY) {
                return Ok(());
            }
            let running = is_running(container).await?;
            if !running || started.elapsed() > READY_WITHIN {
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                let tail: String = tail
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
                    .chars()
                    .filter(|c| *c == '\n' || !c.is_control())
                    .collect();
                bail!("it did not serve within {READY_WITHIN:?}; its log ends:\n{tail}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn storage_list(&self) -> Result<Vec<StorageInfo>> {
        let home = format!("label={}", self.home_label());
        let out = docker([
            "ps",
            "--all",
            "--filter",
            &home,
            "--filter",
            &format!("label={STORAGE_LABEL}"),
            "--format",
            &format!("{{{{.Label \"{STORAGE_LABEL}\"}}}}"),
        ])
        .await?;
        let mut out_list = Vec::new();
        for name in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(info) = self.describe(name).await? {
                out_list.push(info);
            }
        }
        out_list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out_list)
    }

    async fn storage_status(&self, name: &str) -> Result<StorageInfo> {
        if let Some(info) = self.describe(name).await? {
            return Ok(info);
        }
        let there: Vec<String> = self
            .storage_list()
            .await
            .map(|l| l.into_iter().map(|s| s.name).collect())
            .unwrap_or_default();
        bail!(
            "no docker storage {name}{}",
            if there.is_empty() {
                " (there is none; `azlin storage create NAME --provider docker` makes one)"
                    .to_string()
            } else {
                format!(" (there is {})", there.join(", "))
            }
        )
    }

    /// `name` as a new VM's home: its server runs on the fleet's network
    /// (where the VM will be), and its root folder is given to `uid` here
    /// (this provider runs the server, so no squash need be lifted).
    async fn storage_home_for(&self, name: &str, uid: u32) -> Result<HomeShare> {
        let info = self.storage_status(name).await?;
        let container = self.storage_container(name);
        if !is_running(&container).await? {
            bail!(
                "storage {name}'s NFS server is not running: `docker start {container}` brings it                  back (no VM made)"
            );
        }
        let networks = docker([
            "inspect",
            "--format",
            "{{json .NetworkSettings.Networks}}",
            &container,
        ])
        .await?;
        let networks: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(networks.trim()).unwrap_or_default();
        if !networks.contains_key(&self.config.network) {
            bail!(
                "storage {name} is not on the docker network {} the VM will join, so the VM                  could not reach it (no VM made)",
                self.config.network
            );
        }
        let owner = docker(["exec", &container, "stat", "-c", "%u", ganesha::EXPORT_DIR]).await?;
        let owner: u32 = owner
            .trim()
            .parse()
            .with_context(|| format!("storage {name}'s root folder has no owner uid: {owner:?}"))?;
        if owner == 0 {
            let id = format!("{uid}:{uid}");
            docker(["exec", &container, "chown", &id, ganesha::EXPORT_DIR]).await?;
            docker(["exec", &container, "chmod", "0755", ganesha::EXPORT_DIR]).await?;
        } else if owner != uid {
            bail!(
                "storage {name}'s root folder belongs to uid {owner}, not to the VM user's uid                  {uid}, so it cannot be their home (no VM made)"
            );
        }
        Ok(HomeShare {
            export: info.export,
            squash_lifted: false,
        })
    }

    async fn storage_delete(&self, name: &str) -> Result<()> {
        self.storage_status(name).await?;
        let container = self.storage_container(name);
        docker(["rm", "--force", "--volumes", &container])
            .await
            .with_context(|| format!("cannot remove the NFS server of {name}"))?;
        docker_maybe(["volume", "rm", &format!("{container}-data")])
            .await
            .with_context(|| format!("cannot remove the files of {name}"))?;
        Ok(())
    }
}

/// Whether `container` is running now.
async fn is_running(container: &str) -> Result<bool> {
    Ok(
        docker(["inspect", "--format", "{{.State.Running}}", container])
            .await?
            .trim()
            == "true",
    )
}

impl SharedStorage for DockerProvider {
    fn check_free<'a>(
        &'a self,
        spec: &'a StorageSpec,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(self.storage_check_free(spec))
    }

    fn create<'a>(
        &'a self,
        spec: &'a StorageSpec,
        _azure: &'a AzureContext,
        stage: Stage<'a>,
    ) -> Work<'a, Result<StorageInfo>> {
        Box::pin(self.storage_create(spec, stage))
    }

    fn list<'a>(&'a self, _azure: &'a AzureContext) -> Work<'a, Result<Vec<StorageInfo>>> {
        Box::pin(self.storage_list())
    }

    fn status<'a>(
        &'a self,
        name: &'a str,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<StorageInfo>> {
        Box::pin(self.storage_status(name))
    }

    fn home_for<'a>(
        &'a self,
        name: &'a str,
        uid: u32,
        _machine: &'a Machine,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<HomeShare>> {
        Box::pin(self.storage_home_for(name, uid))
    }

    fn home_settled<'a>(
        &'a self,
        _name: &'a str,
        _uid: u32,
        _given: bool,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        // Never lifted here: the root folder is given by the server itself.
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(&'a self, name: &'a str, _azure: &'a AzureContext) -> Work<'a, Result<()>> {
        Box::pin(self.storage_delete(name))
    }
}
