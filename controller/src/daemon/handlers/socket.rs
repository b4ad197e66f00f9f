//! The daemon's side of `daemon.sock` (the CLI's is `ipc::client`): read
//! one request per connection, hand it to [`super::dispatch`],
//! stream progress, send the final reply. An exec or a terminal keeps
//! reading the CLI's input frames while it runs, and writes through a small
//! channel so a slow CLI holds it back instead of filling the daemon's
//! memory.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use azlin_protocol::frame::FrameDecoder;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{UnixListener, UnixStream},
    sync::mpsc,
};

use azlin_protocol::{
    exec::ExecInput,
    message::{Tagged, decode_tagged},
    terminal::TerminalInput,
};
use serde::de::DeserializeOwned;

use super::{exec, terminal};
use crate::{
    daemon::Daemon,
    ipc::{Envelope, IPC_VERSION, MAX_IPC_FRAME, Reply, Request, encode_reply},
};

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

/// Read the request; the decoder keeps whatever the CLI sent after it.
async fn read_envelope(stream: &mut UnixStream, decoder: &mut FrameDecoder) -> Result<Envelope> {
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
    let mut decoder = FrameDecoder::new(MAX_IPC_FRAME);
    let envelope = match read_envelope(&mut stream, &mut decoder).await {
        Ok(e) => e,
        Err(e) => {
            let reply = Reply::Err {
                message: format!("{e:#}"),
                exit: None,
            };
            stream.write_all(&encode_reply(&reply)?).await?;
            return Ok(());
        }
    };
    let azure = envelope.azure;
    let request = match envelope.request {
        Request::Exec(spec) => {
            return duplex::<ExecInput, _, _>(stream, decoder, move |who, replies, input| {
                exec::run(d, spec, who, replies, input)
            })
            .await;
        }
        Request::Connect(spec) => {
            return duplex::<TerminalInput, _, _>(stream, decoder, move |who, replies, input| {
                terminal::run(d, spec, who, replies, input)
            })
            .await;
        }
        Request::AlertsFollow => return follow_alerts(d, stream).await,
        other => other,
    };
    let stopping = matches!(request, Request::Shutdown(_));
    let (tx, mut rx) = mpsc::unbounded_channel::<Reply>();
    let work = tokio::spawn(super::dispatch(d.clone(), request, azure, tx));
    let mut written = Ok(());
    while let Some(reply) = rx.recv().await {
        if written.is_ok() {
            written = stream
                .write_all(&encode_reply(&reply)?)
                .await
                .map_err(anyhow::Error::from);
        }
    }
    work.await?;
    if stopping {
        // Only now: stopping first could end the daemon before the CLI
        // heard that it is stopping. It stops even if the CLI left.
        let _ = d.shutdown.send(true);
    }
    written
}

/// Write every new alert event until the CLI goes away (it sends nothing;
/// its socket closing ends this).
async fn follow_alerts(d: Arc<Daemon>, stream: UnixStream) -> Result<()> {
    let mut feed = d.alerts.feed.subscribe();
    let (mut read, mut write) = stream.into_split();
    let mut buf = [0u8; 256];
    loop {
        tokio::select! {
            n = read.read(&mut buf) => {
                if matches!(n, Ok(0) | Err(_)) {
                    return Ok(());
                }
            }
            event = feed.recv() => {
                let reply = match event {
                    Ok(record) => Reply::Alert {
                        display: d.session_name(&record.vm).unwrap_or_else(|| record.vm.clone()),
                        record,
                    },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => Reply::Progress {
                        vm: String::new(),
                        message: format!("{n} alert events were skipped (this terminal fell behind); `azlin alerts` has them all"),
                    },
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
                };
                if write.write_all(&encode_reply(&reply)?).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// Replies queued for the CLI: enough to keep the socket busy, few enough
/// that output piles up in no buffer of ours.
const REPLY_QUEUE: usize = 8;

/// The login name of the user at the other end of the socket.
fn peer_user(stream: &UnixStream) -> String {
    stream
        .peer_cred()
        .ok()
        .and_then(|c| nix::unistd::User::from_uid(c.uid().into()).ok().flatten())
        .map(|u| u.name)
        .unwrap_or_else(|| "unknown".into())
}

/// A conversation that stays open both ways (exec, connect): the CLI's
/// input frames, decoded as `I`, go to `work` through a small channel that
/// closes when the CLI goes away; `work`'s replies go to the CLI.
async fn duplex<I, F, Fut>(stream: UnixStream, mut decoder: FrameDecoder, work: F) -> Result<()>
where
    I: Tagged + DeserializeOwned + Send + 'static,
    F: FnOnce(String, mpsc::Sender<Reply>, mpsc::Receiver<I>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let who = peer_user(&stream);
    let (mut read, mut write) = stream.into_split();
    let (replies, mut queued) = mpsc::channel::<Reply>(REPLY_QUEUE);
    let (input_tx, input) = mpsc::channel::<I>(4);
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            loop {
                let frame = match decoder.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!("bad frame from the CLI: {e}");
                        return;
                    }
                };
                match decode_tagged::<I>(&frame) {
                    Ok(msg) => {
                        if input_tx.send(msg).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!("bad input from the CLI: {e}");
                        return;
                    }
                }
            }
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if decoder.push(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let work = tokio::spawn(work(who, replies, input));
    while let Some(reply) = queued.recv().await {
        if write.write_all(&encode_reply(&reply)?).await.is_err() {
            // The CLI is gone: dropping the queue tells the work.
            break;
        }
    }
    drop(queued);
    let _ = work.await;
    reader.abort();
    Ok(())
}
