//! Streams an agent opens towards the daemon. The first frame says what
//! the stream carries; today that is telemetry: one sample per frame,
//! checked (clamped or rejected) before it reaches the live store.
//!
//! A malformed frame is a protocol violation and ends that agent's
//! connection (it redials); a sample with absurd figures is only dropped or
//! clamped. Either way no other VM notices.

use std::sync::Arc;

use anyhow::{Result, bail};
use azlin_protocol::{
    stream::AgentStream,
    telemetry::{self, MAX_SAMPLE_FRAME, Sample},
    transport::{FramedRecv, StreamError},
};

use crate::daemon::{Daemon, counters::Counters};

/// Read streams the agent opens until the connection ends; returns the
/// reason if the agent broke the protocol.
pub async fn accept(d: Arc<Daemon>, vm: String, conn: quinn::Connection) -> Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            incoming = conn.accept_uni() => match incoming {
                Ok(recv) => {
                    tasks.spawn(read(d.clone(), vm.clone(), recv));
                }
                Err(_) => return Ok(()),
            },
            Some(done) = tasks.join_next() => {
                if let Ok(Err(e)) = done {
                    Counters::bump(&d.counters.protocol_errors);
                    return Err(e);
                }
            }
        }
    }
}

async fn read(d: Arc<Daemon>, vm: String, recv: quinn::RecvStream) -> Result<()> {
    let mut recv = FramedRecv::new(recv, MAX_SAMPLE_FRAME);
    let result = async {
        match recv.tagged::<AgentStream>().await? {
            Some(AgentStream::Telemetry) => {}
            None => return Ok(()),
        }
        while let Some(sample) = recv.message::<Sample>().await? {
            Counters::bump(&d.counters.frames_received);
            take(&d, &vm, sample);
        }
        Ok::<(), StreamError>(())
    }
    .await;
    match result {
        Ok(()) | Err(StreamError::Lost(_)) => Ok(()),
        Err(e) if e.is_peer_fault() => {
            recv.reject();
            bail!("bad telemetry from {vm}: {e}")
        }
        Err(e) => {
            tracing::debug!(%vm, "telemetry stream ended: {e}");
            Ok(())
        }
    }
}

fn take(d: &Daemon, vm: &str, sample: Sample) {
    match telemetry::check(sample, crate::telemetry::live::now_ms()) {
        Ok(checked) => {
            if checked.clamped {
                Counters::bump(&d.counters.samples_clamped);
                tracing::debug!(%vm, "clamped absurd figures in a sample");
            }
            Counters::bump(&d.counters.samples_received);
            d.live.update(vm, checked.sample);
        }
        Err(e) => {
            Counters::bump(&d.counters.samples_rejected);
            tracing::warn!(%vm, "rejected a sample: {e}");
        }
    }
}
