//! The daemon's side of `daemon.sock`: read one request per connection,
//! stream progress, send the final reply.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use azlin_protocol::frame::FrameDecoder;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{UnixListener, UnixStream},
    sync::mpsc,
};

use super::{Envelope, IPC_VERSION, MAX_IPC_FRAME, Reply, encode_reply};
use crate::daemon::{Daemon, requests};

pub async fn serve(d: Arc<Daemon>, listener: UnixListener) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("CLI accept failed: {e}");
                continue;
            }
        };
        let d = d.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(d, stream).await {
                tracing::debug!("CLI connection: {e:#}");
            }
        });
    }
}

async fn read_envelope(stream: &mut UnixStream) -> Result<Envelope> {
    let mut decoder = FrameDecoder::new(MAX_IPC_FRAME);
    let mut buf = vec![0u8; 8192];
    loop {
        if let Some(frame) = decoder.next_frame()? {
            let (version, _) =
                postcard::take_from_bytes::<u32>(&frame).context("unreadable request")?;
            if version != IPC_VERSION {
                bail!(
                    "this daemon speaks CLI protocol {IPC_VERSION}, the CLI {version}: \
                     run `azlin daemon stop` so the new version starts"
                );
            }
            return postcard::from_bytes(&frame).context("unreadable request");
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            bail!("CLI disconnected before sending a request");
        }
        decoder.push(&buf[..n])?;
    }
}

async fn handle(d: Arc<Daemon>, mut stream: UnixStream) -> Result<()> {
    let envelope = match read_envelope(&mut stream).await {
        Ok(e) => e,
        Err(e) => {
            let reply = Reply::Err {
                message: format!("{e:#}"),
            };
            stream.write_all(&encode_reply(&reply)?).await?;
            return Ok(());
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Reply>();
    let work = tokio::spawn(requests::handle(d, envelope.request, tx));
    while let Some(reply) = rx.recv().await {
        stream.write_all(&encode_reply(&reply)?).await?;
    }
    work.await?;
    Ok(())
}
