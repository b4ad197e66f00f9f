//! `azlin logs` on a docker VM (journald and real log files inside):
//! the agent's unit journal, a file under /var/log with its escape
//! sequences shown escaped, a symlink out of /var/log refused on the VM,
//! and --follow printing a unit's new lines live until Ctrl-C stops it.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    sync::mpsc,
    time::Duration,
};

use azlin_e2e::docker::{DockerEnv, image};

const WAIT: Duration = Duration::from_secs(120);

#[test]
fn logs_stream_from_the_journal_and_files_safely() {
    let Some(image) = image() else {
        return;
    };
    let env = DockerEnv::new(&image);
    env.ok(&["new", "--provider", "docker", "--name", "lg"]);
    env.wait("connected", WAIT, || env.connected("lg"));

    let agent = env.ok(&["logs", "lg", "--agent", "-n", "50"]);
    assert!(agent.contains("azlin-agent"), "{agent}");

    env.exec(
        "lg",
        "printf 'hello\\033[2Jworld\\n' > /var/log/azlin-test.log; ln -sf /etc/shadow /var/log/azlin-link",
    );
    let out = env.ok(&["logs", "lg", "--file", "/var/log/azlin-test.log"]);
    assert!(
        !out.contains('\u{1b}'),
        "a raw escape reached the terminal: {out:?}"
    );
    assert!(out.contains("hello\\u{1b}[2Jworld"), "{out:?}");
    let err = env.fails(&["logs", "lg", "--file", "/var/log/azlin-link"]);
    assert!(err.contains("leads outside"), "{err}");
    let err = env.fails(&["logs", "lg", "--file", "/etc/passwd"]);
    assert!(err.contains("only files under /var/log"), "{err}");

    // --follow: lines as they come, until Ctrl-C.
    let mut follow = env
        .command(&[
            "logs",
            "lg",
            "--unit",
            "azlin-ticker",
            "--follow",
            "-n",
            "1",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_secs(1));
    env.exec(
        "lg",
        "systemd-run --unit=azlin-ticker sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do echo tick-$i; sleep 1; done'",
    );
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("tick-3")) {
        seen.push(
            rx.recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no tick-3 in {seen:?}")),
        );
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(follow.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = follow.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen:?}");
}
