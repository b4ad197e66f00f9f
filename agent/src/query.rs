//! Answer the controller's questions, one bidirectional stream each: read
//! one [`Query`], write one [`QueryReply`], finish; or, for
//! [`Query::Exec`], hand the stream to [`crate::exec`]. A malformed
//! question gets its stream stopped; the session carries on.

use azlin_protocol::{
    stream::{MAX_QUERY_FRAME, Query, QueryReply},
    transport::{self, FramedRecv},
};

use crate::{exec::ExecContext, processes};

/// Serve one question stream to its end. `controller` names the peer.
pub async fn answer(
    exec: &ExecContext,
    controller: &str,
    mut send: quinn::SendStream,
    recv: quinn::RecvStream,
) {
    let mut recv = FramedRecv::new(recv, MAX_QUERY_FRAME);
    let query = match recv.tagged::<Query>().await {
        Ok(Some(q)) => q,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!("bad query from controller: {e}");
            recv.reject();
            let reply = QueryReply::Error {
                reason: format!("bad query: {e}"),
            };
            let _ = transport::send(&mut send, &reply, MAX_QUERY_FRAME).await;
            let _ = send.finish();
            return;
        }
    };
    let reply = match query {
        Query::Processes { sort, limit } => {
            match tokio::task::spawn_blocking(move || processes::top(sort, limit)).await {
                Ok(Ok(list)) => QueryReply::Processes(list),
                Ok(Err(reason)) => QueryReply::Error { reason },
                Err(e) => QueryReply::Error {
                    reason: format!("process scan failed: {e}"),
                },
            }
        }
        Query::Exec(req) => return crate::exec::run(exec, controller, req, send, recv).await,
    };
    if let Err(e) = transport::send(&mut send, &reply, MAX_QUERY_FRAME).await {
        tracing::debug!("could not answer query: {e}");
    }
    let _ = send.finish();
}
