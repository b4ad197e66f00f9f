//! `azlin repo clone` and `azlin new --repo` on local VMs, from a real
//! git repository served over HTTP that refuses anyone without the token
//! (as a private GitHub repository does), with a stand-in `gh` on this
//! machine that prints that token: the clone succeeds, the server saw the
//! token, and the token is nowhere on the VM's disk nor in azlin's logs.
//! Without `gh`, git's refusal is reported. A URL carrying credentials is
//! refused before any VM is made.

use std::path::Path;

use azlin_e2e::{
    Env,
    git_http::{GitHttp, bare_repo, stand_in_gh},
};

const TOKEN: &str = "ghp_azlinTestToken0123456789abcdef";

/// Every file under `dir` that holds `needle`.
fn holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            out.extend(holding(&p, needle));
        } else if meta.is_file()
            && let Ok(bytes) = std::fs::read(&p)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            out.push(p.display().to_string());
        }
    }
    out
}

#[test]
fn a_private_repository_is_cloned_with_the_token_kept_off_disk_and_logs() {
    let srv = tempfile::tempdir().unwrap();
    bare_repo(srv.path(), "hello from the repo\n");
    let server = GitHttp::start(srv.path(), TOKEN);
    let url = format!("{}/proj.git", server.base());
    // This machine's gh, logged in to that host.
    let gh_dir = tempfile::tempdir().unwrap();
    let with_gh = stand_in_gh(gh_dir.path(), &server, TOKEN);

    let env = Env::new();
    env.ok(&["new", "--name", "r1"]);
    let run = |args: &[&str], path: &str| env.command(args).env("PATH", path).output().unwrap();

    // Without a token git is refused, and says so.
    let out = run(
        &["repo", "clone", "r1", &url],
        &std::env::var("PATH").unwrap(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("git clone on r1 failed"), "{err}");

    let out = run(&["repo", "clone", "r1", &url], &with_gh);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("with this machine's gh token"));
    assert_eq!(
        env.ok(&["exec", "--vm", "r1", "--", "cat proj/README"]),
        "hello from the repo\n"
    );
    assert!(
        server
            .authorizations()
            .iter()
            .any(|a| a.starts_with("Basic ")),
        "the server never saw credentials"
    );

    // `new --repo` clones on the new VM.
    let out = run(&["new", "--name", "r2", "--repo", &url], &with_gh);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.ok(&["exec", "--vm", "r2", "--", "cat proj/README"]),
        "hello from the repo\n"
    );

    // The token is nowhere: not on the VMs' disks, not in azlin's logs
    // and state (the whole home holds both).
    let found = holding(env.home(), TOKEN.as_bytes());
    assert!(found.is_empty(), "the token was written to {found:?}");

    let err = env.fails(&[
        "new",
        "--name",
        "r3",
        "--repo",
        "https://me:secret@example.com/x.git",
    ]);
    assert!(err.contains("carries credentials"), "{err}");
    assert!(!env.list().iter().any(|v| v["name"] == "r3"));
}
