//! One file stream to an agent, as the daemon's copies use it: check the
//! VM can take part, open the stream with its `Query::Files`, wait for
//! the folder to be opened, then exchange frames. Shared by copies to a
//! VM (`files`) and from one (`fetch`).

use anyhow::{Context, Result, anyhow, bail};
use azlin_protocol::{
    files::wire::{
        CAP_FILES, CAP_MANIFEST, CAP_MANIFEST_SEND, FilesRequest, Inbound, MAX_FILES_FRAME,
        Outbound,
    },
    stream::{MAX_QUERY_FRAME, Query},
    transport::{self, FramedRecv},
};

use crate::daemon::Daemon;

/// `vm`'s connection, if it is connected and its agent handles files.
pub fn connection(d: &Daemon, vm: &str) -> Result<quinn::Connection> {
    connection_with(d, vm, CAP_FILES)
}

/// `vm`'s connection, if it is connected and its agent takes files by
/// manifest.
pub fn connection_by_manifest(d: &Daemon, vm: &str) -> Result<quinn::Connection> {
    connection_with(d, vm, CAP_MANIFEST)
}

/// Whether `vm`'s agent gives files by manifest.
pub fn gives_by_manifest(d: &Daemon, vm: &str) -> bool {
    d.fleet.announces(vm, CAP_MANIFEST_SEND)
}

/// Whether `vm`'s agent takes files by manifest.
pub fn takes_by_manifest(d: &Daemon, vm: &str) -> bool {
    d.fleet.announces(vm, CAP_MANIFEST)
}

fn connection_with(d: &Daemon, vm: &str, capability: &str) -> Result<quinn::Connection> {
    let conn = d
        .fleet
        .connection(vm)
        .ok_or_else(|| anyhow!("{vm} is not connected; `azlin status {vm}` says why"))?;
    if !d.fleet.announces(vm, capability) {
        bail!("{vm}'s agent cannot give or take files (an older version); update it");
    }
    Ok(conn)
}

pub struct FileStream {
    pub send: quinn::SendStream,
    recv: FramedRecv,
}

impl FileStream {
    /// Open a stream to `vm` for `request`; returns it and the folder as
    /// the agent resolved it.
    pub async fn open(
        conn: &quinn::Connection,
        vm: &str,
        request: FilesRequest,
    ) -> Result<(Self, String)> {
        let (mut send, recv) = conn.open_bi().await.context("cannot open a file stream")?;
        transport::send(&mut send, &Query::Files(request), MAX_QUERY_FRAME).await?;
        let mut s = Self {
            send,
            recv: FramedRecv::new(recv, MAX_FILES_FRAME),
        };
        match s.next().await? {
            Outbound::Opened { root } => Ok((s, root)),
            Outbound::Failed { reason } => bail!("{vm} refused: {reason}"),
            other => bail!("{vm} answered {other:?} instead of opening the folder"),
        }
    }

    pub async fn next(&mut self) -> Result<Outbound> {
        self.recv
            .tagged::<Outbound>()
            .await?
            .ok_or_else(|| anyhow!("the agent closed the file stream"))
    }

    pub async fn put(&mut self, f: &Inbound) -> Result<()> {
        Ok(transport::send(&mut self.send, f, MAX_FILES_FRAME).await?)
    }

    /// Its two halves, to be read and written by different tasks.
    pub fn split(self) -> (quinn::SendStream, FramedRecv) {
        (self.send, self.recv)
    }

    /// Say there is nothing more and close our side.
    pub async fn end(mut self) -> Result<()> {
        self.put(&Inbound::End).await?;
        let _ = self.send.finish();
        Ok(())
    }
}
