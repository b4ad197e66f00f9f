//! `azlin env` and `azlin repo clone` on a docker VM, as its real user
//! with a real login: the variables reach `exec`, a login shell and an
//! interactive shell (what `connect` runs in tmux); a private repository
//! served from this machine is cloned with this machine's `gh` token,
//! which is then nowhere on the VM's disk.

use std::time::Duration;

use azlin_e2e::{
    docker::{DockerEnv, TEST_SUBNET, image},
    git_http::{GitHttp, bare_repo, stand_in_gh},
};

const WAIT: Duration = Duration::from_secs(120);
const TOKEN: &str = "ghp_dockerTestToken9876543210fedcba";

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
    bare_repo(srv.path(), "from the host\n");
    let gateway = TEST_SUBNET.replace(".0.0/16", ".0.1");
    let server = GitHttp::start_on(&gateway, srv.path(), TOKEN);
    let gh_dir = tempfile::tempdir().unwrap();
    let path = stand_in_gh(gh_dir.path(), &server, TOKEN);
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
