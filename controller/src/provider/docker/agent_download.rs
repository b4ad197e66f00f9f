//! Serves the `azlin-agent` binary to new containers over HTTP, as a
//! release download serves it to Azure VMs: cloud-init fetches
//! `http://GATEWAY:PORT/azlin-agent/<sha256>` and checks the hash itself.
//!
//! It listens only on the docker network's gateway address, serves one
//! path (the current binary's hash; anything else is 404), reads at most
//! 8 KiB of request head within 10 s, and answers `GET` and `HEAD` only.
//! Not a general file server.

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

const MAX_HEAD: usize = 8 * 1024;
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The running server and what it serves.
pub struct AgentDownload {
    pub url: String,
    pub sha256: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AgentDownload {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

impl AgentDownload {
    /// Start serving `binary` on `ip` (a free port).
    pub async fn start(ip: IpAddr, binary: PathBuf) -> Result<Self> {
        let sha256 = sha256_file(&binary)?;
        let listener = TcpListener::bind(SocketAddr::new(ip, 0))
            .await
            .with_context(|| format!("cannot listen on {ip} to serve the agent to containers"))?;
        let addr = listener.local_addr()?;
        let path = format!("/azlin-agent/{sha256}");
        let url = format!("http://{addr}{path}");
        let task = tokio::spawn(serve(listener, path, binary));
        Ok(Self { url, sha256, task })
    }
}

async fn serve(listener: TcpListener, path: String, binary: PathBuf) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let path = path.clone();
        let binary = binary.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &path, &binary).await {
                tracing::debug!(%peer, "agent download: {e:#}");
            }
        });
    }
}

async fn answer(mut stream: TcpStream, path: &str, binary: &Path) -> Result<()> {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(Some(head))) => head,
        Ok(Ok(None)) => return respond(&mut stream, "431 Request Header Fields Too Large").await,
        Ok(Err(e)) => return Err(e),
        Err(_) => return respond(&mut stream, "408 Request Timeout").await,
    };
    let line = head.lines().next().unwrap_or_default();
    let mut words = line.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, "405 Method Not Allowed").await;
    }
    if target != path {
        return respond(&mut stream, "404 Not Found").await;
    }
    let mut file = tokio::fs::File::open(binary).await?;
    let len = file.metadata().await?.len();
    let header = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(header.as_bytes()).await?;
    if method == "GET" {
        tokio::io::copy(&mut file, &mut stream).await?;
    }
    stream.shutdown().await?;
    Ok(())
}

/// The request head, or `None` past [`MAX_HEAD`].
async fn read_head(stream: &mut TcpStream) -> Result<Option<String>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            anyhow::bail!("connection closed before the request ended");
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

async fn respond(stream: &mut TcpStream, status: &str) -> Result<()> {
    let body = format!("{status}\n");
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: &str, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn serves_the_binary_at_its_hash_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("azlin-agent");
        std::fs::write(&bin, b"\x7fELF pretend agent").unwrap();
        let server = AgentDownload::start("127.0.0.1".parse().unwrap(), bin.clone())
            .await
            .unwrap();
        assert_eq!(server.sha256, sha256_file(&bin).unwrap());
        let addr = server.url["http://".len()..]
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let path = format!("/azlin-agent/{}", server.sha256);
        let ok = get(
            &addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\n\x7fELF pretend agent"));
        let other = get(&addr, b"GET /etc/passwd HTTP/1.1\r\n\r\n").await;
        assert!(other.starts_with("HTTP/1.1 404"), "{other}");
        let dots = get(
            &addr,
            format!("GET {path}/../../x HTTP/1.1\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(dots.starts_with("HTTP/1.1 404"), "{dots}");
        let post = get(&addr, format!("POST {path} HTTP/1.1\r\n\r\n").as_bytes()).await;
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
        let huge = vec![b'a'; 20_000];
        let big = get(&addr, &huge).await;
        assert!(big.starts_with("HTTP/1.1 431"), "{big}");
    }
}
