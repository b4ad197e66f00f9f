//! Snapshots of docker VMs: a snapshot is an image of the VM's container
//! (`docker commit`), tagged `azlin-snapshot:HOME-NAME` and labelled with
//! the VM and the azlin home.
//!
//! The commit runs with `--pause=false` while the VM's agent holds the
//! VM still (`holds_still`: every other process frozen by the cgroup
//! freezer, file systems flushed; see the agent's `quiesce`). A paused
//! container (docker's default) would freeze the agent too, for the
//! commit's ~3-4 s, past the link's 3 s idle timeout: the VM would be
//! reported lost and its terminals cut. Frozen by the agent, nothing
//! writes while docker copies the container's files, so the image is of
//! one moment, as a paused commit's is.
//!
//! A restore makes a new container from the image with the VM's name,
//! network and seed, copies the agent's identity (`/var/lib/azlin-agent`:
//! key, certificate) from the container it replaces into it, so the VM
//! comes back without enrolling again even if its certificate changed
//! since the snapshot, and starts it. The container it replaces is
//! renamed and kept, stopped, unless `--delete-old`. The new container
//! runs from its own tag of the image (`azlin-restored:HOME-VM`), so the
//! snapshot can still be deleted while the VM runs from it.
//!
//! A clone's source is an image too: the source VM committed while held
//! still, then scrubbed in a throwaway container of it ([`SCRUB`]: the
//! agent's identity, config and join token, its unit's start at boot, the
//! SSH host keys, cloud-init's record of the instance, the machine id, and
//! the home's secrets), committed again with the VM image's entrypoint.
//! Each clone boots it with a seed of its own (a new instance id), so
//! cloud-init runs as on a new VM: new host keys, a new join token, the
//! agent installed and enrolled afresh under the clone's name.

use std::process::Stdio;

use anyhow::{Context, Result, bail};
use azlin_cloud_init::AGENT_STATE_DIR;
use azlin_protocol::DEFAULT_AGENT_PORT;
use serde::{Deserialize, Serialize};

use super::{
    DockerData, DockerProvider, data_of,
    engine::{docker, docker_maybe},
};
use crate::{
    azure::context::AzureContext,
    provider::{
        Stage, Started, Work,
        snapshots::{HomeSecrets, Snapshots},
    },
    state::{VmRow, now_unix, snapshots::SnapshotRow},
};

/// The repository of snapshot images.
const SNAPSHOT_REPOSITORY: &str = "azlin-snapshot";
/// The repository of the images restored VMs run from.
pub(super) const RESTORED_REPOSITORY: &str = "azlin-restored";
/// The repository of clones' images (the shared source, and each clone's
/// own tag of it).
pub(super) const CLONE_REPOSITORY: &str = "azlin-clone";

/// What a clone image must not carry from its source; the home's
/// secrets follow as arguments.
const SCRUB: &str = "set -e
rm -rf /var/lib/azlin-agent /var/lib/cloud/instance /var/lib/cloud/instances /var/lib/cloud/data
rm -f /etc/azlin/agent.toml /etc/azlin/join-token /etc/ssh/ssh_host_*
rm -f /etc/systemd/system/multi-user.target.wants/azlin-agent.service
: > /etc/machine-id
# systemd takes D-Bus's copy of the old id when /etc has none.
[ -L /var/lib/dbus/machine-id ] || rm -f /var/lib/dbus/machine-id
[ \"$#\" -eq 0 ] || rm -rf -- \"$@\"
";

/// What a clone of a docker VM is made from.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct DockerCloneSource {
    /// `azlin-clone:HOME-SRC-TIME`, scrubbed.
    pub image: String,
    /// The source as committed, before the scrub.
    base: String,
}

/// What `state.db` keeps of a docker snapshot.
#[derive(Debug, Serialize, Deserialize)]
struct DockerSnapshot {
    /// `azlin-snapshot:HOME-NAME`.
    image: String,
    /// The image's id (`sha256:…`).
    id: String,
}

fn snapshot_of(s: &SnapshotRow) -> Result<DockerSnapshot> {
    serde_json::from_str(&s.provider_data)
        .with_context(|| format!("snapshot {} has no image recorded", s.name))
}

/// Whether docker has `image`.
async fn image_exists(image: &str) -> Result<bool> {
    Ok(
        docker_maybe(["image", "inspect", "--format", "{{.Id}}", image])
            .await?
            .is_some(),
    )
}

/// A `LABEL` instruction's quoted value.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

impl DockerProvider {
    async fn clone_image(&self, src: &VmRow, secrets: &HomeSecrets) -> Result<String> {
        let data = data_of(src)?;
        let stamp = format!("{}-{}-{}", self.home_tag(), src.name, now_unix());
        let base = format!("{CLONE_REPOSITORY}:{stamp}-base");
        let image = format!("{CLONE_REPOSITORY}:{stamp}");
        docker(["commit", "--pause=false", &data.container, &base])
            .await
            .with_context(|| format!("cannot commit {}'s container", src.name))?;
        let scrubber = format!("azlin-{stamp}-scrub");
        let mut args: Vec<String> = [
            "run",
            "--name",
            &scrubber,
            "--network",
            "none",
            "--entrypoint",
            "/bin/sh",
            &base,
            "-c",
            SCRUB,
            "scrub",
        ]
        .map(String::from)
        .to_vec();
        args.extend(
            secrets
                .paths
                .iter()
                .map(|rel| format!("{}/{rel}", secrets.home.trim_end_matches('/'))),
        );
        let scrubbed = async {
            docker(args).await.context("cannot scrub the clone image")?;
            let entrypoint = docker([
                "image",
                "inspect",
                "--format",
                "{{json .Config.Entrypoint}}",
                &base,
            ])
            .await?;
            docker([
                "commit",
                "--change",
                &format!("ENTRYPOINT {}", entrypoint.trim()),
                "--change",
                "CMD []",
                "--change",
                &format!("LABEL azlin.clone-of={}", quoted(&src.name)),
                &scrubber,
                &image,
            ])
            .await
        };
        let done = scrubbed.await;
        docker_maybe(["rm", "--force", &scrubber]).await?;
        if let Err(e) = done {
            docker_maybe(["image", "rm", &base]).await?;
            return Err(e);
        }
        Ok(serde_json::to_string(&DockerCloneSource { image, base })?)
    }

    async fn commit(&self, vm: &VmRow, name: &str) -> Result<String> {
        let data = data_of(vm)?;
        let image = format!("{SNAPSHOT_REPOSITORY}:{}-{name}", self.home_tag());
        if image_exists(&image).await? {
            bail!("docker already has an image {image}: pick another name");
        }
        let labels = [
            format!("LABEL azlin.snapshot={}", quoted(name)),
            format!("LABEL azlin.vm={}", quoted(&vm.name)),
            format!(
                "LABEL azlin.home={}",
                quoted(&self.home.root().display().to_string())
            ),
        ];
        let mut args = vec!["commit".to_string(), "--pause=false".to_string()];
        for label in labels {
            args.push("--change".into());
            args.push(label);
        }
        args.push(data.container.clone());
        args.push(image.clone());
        let id = docker(args)
            .await
            .with_context(|| format!("cannot commit {}'s container", vm.name))?
            .trim()
            .to_string();
        Ok(serde_json::to_string(&DockerSnapshot { image, id })?)
    }

    /// Copy the agent's identity from container `from` into `to`.
    async fn copy_identity(&self, from: &str, to: &str) -> Result<()> {
        let mut out = tokio::process::Command::new("docker")
            .args(["cp", &format!("{from}:{AGENT_STATE_DIR}"), "-"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot run docker cp")?;
        let tar: Stdio = out
            .stdout
            .take()
            .context("docker cp gave no output")?
            .try_into()
            .context("cannot pass docker cp's output on")?;
        let parent = std::path::Path::new(AGENT_STATE_DIR)
            .parent()
            .map_or("/".into(), |p| p.display().to_string());
        let into = tokio::process::Command::new("docker")
            .args(["cp", "-", &format!("{to}:{parent}")])
            .stdin(tar)
            .output()
            .await
            .context("cannot run docker cp")?;
        let from_out = out.wait_with_output().await?;
        if !from_out.status.success() || !into.status.success() {
            bail!(
                "cannot copy the agent's identity from {from} to {to}: {} {}",
                String::from_utf8_lossy(&from_out.stderr).trim(),
                String::from_utf8_lossy(&into.stderr).trim()
            );
        }
        Ok(())
    }

    async fn restore_image(
        &self,
        vm: &VmRow,
        snapshot: &SnapshotRow,
        delete_old: bool,
        stage: Stage<'_>,
    ) -> Result<Started> {
        let snap = snapshot_of(snapshot)?;
        let data = data_of(vm)?;
        if !image_exists(&snap.image).await? {
            bail!(
                "docker has no image {} any more: delete the snapshot's record with azlin \
                 snapshot delete {}",
                snap.image,
                snapshot.name
            );
        }
        let caps = docker([
            "inspect",
            "--format",
            "{{json .HostConfig.CapAdd}}",
            &data.container,
        ])
        .await
        .with_context(|| format!("cannot read {}'s container", vm.name))?;
        let nfs = caps.contains("SYS_ADMIN");
        let restored = format!("{RESTORED_REPOSITORY}:{}-{}", self.home_tag(), vm.name);
        docker(["tag", &snap.image, &restored]).await?;
        docker_maybe(["stop", "--time", "10", &data.container])
            .await
            .with_context(|| format!("cannot stop {}", vm.name))?;
        stage(format!("{} stopped", vm.name));
        let aside = format!("{}-before-{}-{}", data.container, snapshot.name, now_unix());
        docker(["rename", &data.container, &aside]).await?;
        let mut args = vec!["create".to_string()];
        args.extend(self.container_args(&vm.name, &data.container, nfs)?);
        args.push(restored.clone());
        let made = async {
            docker(args).await?;
            self.copy_identity(&aside, &data.container).await?;
            docker(["start", &data.container]).await
        };
        if let Err(e) = made.await {
            // Put the VM back as it was: its own container, started.
            docker_maybe(["rm", "--force", "--volumes", &data.container]).await?;
            docker(["rename", &aside, &data.container]).await?;
            docker(["start", &data.container]).await?;
            return Err(e.context(format!(
                "{} could not be restored; it is back on the container it had",
                vm.name
            )));
        }
        if delete_old {
            docker(["rm", "--force", "--volumes", &aside]).await?;
            stage("the container it had is deleted".into());
        } else {
            stage(format!(
                "the container it had is kept, stopped, as {aside} (docker rm {aside} deletes it)"
            ));
        }
        let ip = self.ip(&data.container).await?;
        let data = DockerData {
            container: data.container,
            image: restored,
            ip: Some(ip.clone()),
        };
        Ok(Started {
            provider_data: serde_json::to_string(&data)?,
            address: Some(format!("{ip}:{DEFAULT_AGENT_PORT}")),
        })
    }
}

impl Snapshots for DockerProvider {
    fn holds_still(&self) -> bool {
        true
    }

    fn take<'a>(
        &'a self,
        vm: &'a VmRow,
        name: &'a str,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<String>> {
        Box::pin(self.commit(vm, name))
    }

    fn holds(&self, snapshot: &SnapshotRow) -> String {
        match snapshot_of(snapshot) {
            Ok(s) => format!("image {}", s.image),
            Err(e) => format!("{e:#}"),
        }
    }

    fn restore_plan(&self, vm: &VmRow, snapshot: &SnapshotRow, delete_old: bool) -> Vec<String> {
        let container = data_of(vm).map(|d| d.container).unwrap_or_default();
        vec![
            format!("stop {}'s container {container}", vm.name),
            format!(
                "make a new container {container} from {}, with {}'s network, seed and agent \
                 identity as it is now (no new enrollment)",
                self.holds(snapshot),
                vm.name
            ),
            if delete_old {
                "delete the container it had".into()
            } else {
                "keep the container it had, stopped, under another name".into()
            },
            "start the new container".into(),
        ]
    }

    fn restore<'a>(
        &'a self,
        vm: &'a VmRow,
        snapshot: &'a SnapshotRow,
        delete_old: bool,
        _azure: &'a AzureContext,
        stage: Stage<'a>,
    ) -> Work<'a, Result<Started>> {
        Box::pin(self.restore_image(vm, snapshot, delete_old, stage))
    }

    fn clone_source<'a>(
        &'a self,
        src: &'a VmRow,
        secrets: &'a HomeSecrets,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<String>> {
        Box::pin(self.clone_image(src, secrets))
    }

    fn drop_clone_source<'a>(&'a self, source: &'a str, _azure: &'a AzureContext) -> Work<'a, ()> {
        Box::pin(async move {
            let Ok(source) = serde_json::from_str::<DockerCloneSource>(source) else {
                return;
            };
            // Untagged only: the clones run from tags of their own.
            for tag in [&source.image, &source.base] {
                if tag.starts_with(&format!("{CLONE_REPOSITORY}:"))
                    && let Err(e) = docker_maybe(["image", "rm", tag]).await
                {
                    tracing::warn!("cannot remove the clone image {tag}: {e:#}");
                }
            }
        })
    }

    fn delete<'a>(
        &'a self,
        snapshot: &'a SnapshotRow,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(async move {
            let snap = snapshot_of(snapshot)?;
            if !snap.image.starts_with(&format!("{SNAPSHOT_REPOSITORY}:")) {
                bail!(
                    "snapshot {}'s record names {}, not an {SNAPSHOT_REPOSITORY} image: not \
                     deleting it",
                    snapshot.name,
                    snap.image
                );
            }
            docker_maybe(["image", "rm", &snap.image]).await?;
            Ok(())
        })
    }
}
