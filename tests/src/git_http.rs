//! A git server for clone tests: bare repositories served over git's
//! "dumb" HTTP protocol (static files, after `git update-server-info`),
//! each request refused `401` unless it carries Basic credentials whose
//! password is the expected token, as a private GitHub repository is.
//! It keeps the Authorization headers it saw, so a test can tell the
//! token was sent. [`bare_repo`] makes a repository to serve, and
//! [`stand_in_gh`] a `gh` that gives the token for the server's host.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use base64::Engine as _;

/// Run git in `dir`, as a fixed author; panics with git's words.
fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `root/proj.git`: a bare repository of one commit holding `README` with
/// `readme`, ready for the dumb protocol.
pub fn bare_repo(root: &Path, readme: &str) {
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("README"), readme).unwrap();
    git(&work, &["add", "README"]);
    git(&work, &["commit", "-q", "-m", "first"]);
    git(root, &["clone", "-q", "--bare", "work", "proj.git"]);
    git(&root.join("proj.git"), &["update-server-info"]);
}

/// A `gh` in `dir` that prints `token` for `gh auth token --hostname
/// HOST` of `server`'s host and fails for anything else; returns this
/// process's PATH with `dir` first.
pub fn stand_in_gh(dir: &Path, server: &GitHttp, token: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let gh = dir.join("gh");
    std::fs::write(
        &gh,
        format!(
            "#!/bin/sh\n[ \"$*\" = \"auth token --hostname {}\" ] && echo {token} && exit 0\nexit 1\n",
            server.host()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap())
}

pub struct GitHttp {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl GitHttp {
    /// Serve the bare repositories under `root` at `http://127.0.0.1:PORT/`.
    pub fn start(root: &Path, token: &str) -> Self {
        Self::start_on("127.0.0.1", root, token)
    }

    /// The same on `ip` (a docker network's gateway, for containers).
    pub fn start_on(ip: &str, root: &Path, token: &str) -> Self {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (root, want, log) = (root.to_path_buf(), token.to_string(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, want, log) = (root.clone(), want.clone(), log.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &want, &log);
                });
            }
        });
        Self { base, seen }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The host and port, as `gh auth token --hostname` is asked.
    pub fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Every Authorization header received.
    pub fn authorizations(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    root: &Path,
    token: &str,
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut auth = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            auth = Some(v.trim().to_string());
        }
    }
    let mut out = stream;
    if let Some(a) = &auth {
        seen.lock().unwrap().push(a.clone());
    }
    let allowed = auth
        .as_deref()
        .and_then(|a| a.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .is_some_and(|pair| pair.split_once(':').is_some_and(|(_, p)| p == token));
    if !allowed {
        return out.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let rel = path
        .split('?')
        .next()
        .unwrap_or("/")
        .trim_start_matches('/');
    let file: PathBuf = root.join(rel);
    let inside = !rel.split('/').any(|p| p == "..");
    match std::fs::File::open(&file) {
        Ok(mut f) if inside && file.is_file() => {
            let mut body = Vec::new();
            f.read_to_end(&mut body)?;
            out.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            )?;
            out.write_all(&body)
        }
        _ => out
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    }
}
