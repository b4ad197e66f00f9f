//! `/metrics` over HTTP on a loopback port, for Prometheus to scrape.
//!
//! Only what a scraper needs: `GET` or `HEAD` of `/metrics`, one request per
//! connection, a bounded request head read under a deadline. Anything else
//! gets the right status code and is closed.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::{Context, Result};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::{
    daemon::{Daemon, counters},
    state::now_unix,
    telemetry::prometheus::{self, DaemonFigures, VmFigures},
};

/// Largest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// A client has this long to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot serve /metrics on {addr} (metrics.listen in config.toml)"))
}

pub async fn serve(d: Arc<Daemon>, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let d = d.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(&d, stream).await {
                tracing::debug!("metrics request failed: {e}");
            }
        });
    }
}

async fn answer(d: &Daemon, mut stream: TcpStream) -> std::io::Result<()> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(Some(head))) => head,
        Ok(Ok(None)) => {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "",
                false,
            )
            .await;
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => return respond(&mut stream, "408 Request Timeout", "", false).await,
    };
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let body = exposition(d);
            respond(&mut stream, "200 OK", &body, method == "HEAD").await
        }
        ("GET" | "HEAD", "/") => {
            respond(
                &mut stream,
                "200 OK",
                "azlin daemon: metrics at /metrics\n",
                method == "HEAD",
            )
            .await
        }
        ("GET" | "HEAD", _) => {
            respond(
                &mut stream,
                "404 Not Found",
                "not found; try /metrics\n",
                false,
            )
            .await
        }
        _ => {
            respond(
                &mut stream,
                "405 Method Not Allowed",
                "only GET /metrics\n",
                false,
            )
            .await
        }
    }
}

/// Read up to the blank line that ends the request head; `None` if it is
/// larger than [`MAX_HEAD`].
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    body: &str,
    head_only: bool,
) -> std::io::Result<()> {
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes()).await?;
    if !head_only {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}

/// The Prometheus exposition of the fleet and the daemon, now.
fn exposition(d: &Daemon) -> String {
    let names: Vec<String> = match d.db.lock().expect("db lock").vms() {
        Ok(rows) => rows.into_iter().map(|r| r.name).collect(),
        Err(e) => {
            tracing::warn!("cannot list VMs for /metrics: {e:#}");
            Vec::new()
        }
    };
    let vms: Vec<VmFigures> = names
        .into_iter()
        .map(|vm| VmFigures {
            connected: d.fleet.status(&vm).connected,
            latest: d.live.latest(&vm),
            vm,
        })
        .collect();
    let c = &d.counters;
    let figures = DaemonFigures {
        vms: vms.len() as u64,
        connections: d.fleet.connected_count() as u64,
        reconnects: d.fleet.reconnects_total(),
        frames_received: counters::Counters::get(&c.frames_received),
        samples_received: counters::Counters::get(&c.samples_received),
        samples_rejected: counters::Counters::get(&c.samples_rejected),
        samples_clamped: counters::Counters::get(&c.samples_clamped),
        protocol_errors: counters::Counters::get(&c.protocol_errors),
        queries: counters::Counters::get(&c.queries),
        uptime_secs: (now_unix() - d.started_at).max(0) as u64,
    };
    prometheus::render(&vms, &figures)
}
