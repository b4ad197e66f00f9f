//! `azlin env` and `azlin repo clone` on a docker VM, as its real user
//! with a real login: the variables reach `exec`, a login shell and an
//! interactive shell (what `connect` runs in tmux); a private repository
//! served from this machine is cloned with this machine's `gh` token,
//! which is then nowhere on the VM's disk.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Command, time::Duration};

use azlin_e2e::{
    docker::{DockerEnv, TEST_SUBNET, image},
    git_http::GitHttp,
};

const WAIT: Duration = Duration::from_secs(120);
const TOKEN: &str = "ghp_dockerTestToken9876543210fedcba";

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
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

#[test]
fn env_and_repositories_work_as_the_vm_user() {
    let Some(image) = image() else {
        return;
    };
    let env = DockerEnv::new(&image);
    env.ok(&["new", "--provider", "docker", "--name", "ops"]);
    env.wait("connected", WAIT, || env.connected("ops"));

    let hard = "it's \"$HOME\" `id` \\ end\nline two";
    env.ok(&["env", "set", "ops", "FOO=bar", &format!("HARD={hard}")]);
    assert_eq!(
        env.ok(&["exec", "--vm", "ops", "--", "printf '%s' \"$HARD\""]),
        hard
    );
    assert_eq!(
        env.ok(&[
            "exec",
            "--vm",
            "ops",
            "--",
            "env -i HOME=\"$HOME\" bash -lc 'printf %s \"$FOO\"'"
        ]),
        "bar",
        "a login shell sources the file"
    );
    assert_eq!(
        env.ok(&[
            "exec",
            "--vm",
            "ops",
            "--",
            "env -i HOME=\"$HOME\" bash -ic 'printf %s \"$FOO\"' 2>/dev/null"
        ]),
        "bar",
        "an interactive shell (a terminal's) sources it"
    );
    let owner = env.exec("ops", "stat -c '%U %a' /home/azureuser/.config/azlin/env");
    assert_eq!(owner.trim(), "azureuser 600");

    // A private repository on this machine, reached at the test network's
    // gateway.
    let srv = tempfile::tempdir().unwrap();
    let work = srv.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("README"), "from the host\n").unwrap();
    git(&work, &["add", "README"]);
    git(&work, &["commit", "-q", "-m", "first"]);
    git(srv.path(), &["clone", "-q", "--bare", "work", "proj.git"]);
    git(&srv.path().join("proj.git"), &["update-server-info"]);
    let gateway = TEST_SUBNET.replace(".0.0/16", ".0.1");
    let server = GitHttp::start_on(&gateway, srv.path(), TOKEN);
    let gh_dir = tempfile::tempdir().unwrap();
    let gh = gh_dir.path().join("gh");
    std::fs::write(
        &gh,
        format!(
            "#!/bin/sh\n[ \"$*\" = \"auth token --hostname {}\" ] && echo {TOKEN} && exit 0\nexit 1\n",
            server.host()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        gh_dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    let url = format!("{}/proj.git", server.base());
    let out = env
        .command(&["repo", "clone", "ops", &url, "src/proj"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.ok(&[
            "exec",
            "--vm",
            "ops",
            "--",
            "cat src/proj/README; stat -c %U src/proj"
        ]),
        "from the host\nazureuser\n"
    );
    let found = env.exec(
        "ops",
        &format!("grep -rlF '{TOKEN}' /home /etc /var/log /root /tmp /var/lib/azlin-agent 2>/dev/null || true"),
    );
    assert!(found.trim().is_empty(), "the token is on the VM: {found}");
}
