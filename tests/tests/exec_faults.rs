//! Fleet commands when things go wrong: timeouts, Ctrl-C, a CLI killed
//! outright, VMs offline or lost mid-command, and output far larger than
//! any buffer. Nothing may be left running, and no run may hang.

use std::{
    io::Read,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use azlin_e2e::{Env, kill9, pids_where, proc_stats};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use serde_json::Value;

/// `sleep` processes whose argument starts with `marker` (each test uses
/// its own unusual lengths).
fn sleeping(marker: &str) -> Vec<i32> {
    pids_where(|cmdline| {
        let argv: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        argv.len() >= 2 && argv[0] == b"sleep" && argv[1].starts_with(marker.as_bytes())
    })
}

/// Wait for a CLI process with a generous safety limit, so a hang fails the
/// test instead of stalling the suite.
fn wait_exit(child: &mut Child) -> i32 {
    let limit = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        assert!(Instant::now() < limit, "azlin did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn audit_ends(env: &Env) -> Vec<Value> {
    std::fs::read_to_string(env.home().join("logs/audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event"] == "end")
        .collect()
}

#[test]
fn timeouts_and_cancels_kill_the_whole_process_group() {
    let env = Env::new();
    env.ok(&["new", "--name", "k", "--pool", "2"]);

    // --timeout: the agent kills the group, background jobs included.
    let out = env.run(&[
        "exec",
        "--vm",
        "k-1",
        "--timeout",
        "1",
        "--",
        "sleep 4241 & sleep 4242; echo never",
    ]);
    assert_eq!(out.status.code(), Some(124));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("never"));
    env.wait(
        "timed-out processes to be gone",
        Duration::from_secs(5),
        || sleeping("424").is_empty(),
    );

    // Ctrl-C: every VM's process group is killed, azlin reports and exits 130.
    let mut cli = env
        .command(&["--", "sleep 5151 & sleep 5152; echo never"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    env.wait("the commands to start", Duration::from_secs(10), || {
        sleeping("515").len() == 4
    });
    kill(Pid::from_raw(cli.id() as i32), Signal::SIGINT).unwrap();
    assert_eq!(wait_exit(&mut cli), 130);
    let mut err = String::new();
    cli.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("cancelling on 2 VMs"), "{err}");
    let per_vm = err
        .lines()
        .filter(|l| l.starts_with("k-") && l.ends_with("cancelled; its process group was killed"));
    assert_eq!(per_vm.count(), 2, "{err}");
    // Nothing left: checked once azlin has returned, not eventually.
    assert_eq!(sleeping("515").len(), 0, "leftovers after Ctrl-C");

    // A CLI killed outright: the daemon notices the closed socket and
    // cancels, so nothing is left either.
    let mut cli = env
        .command(&["--", "sleep 6161 & sleep 6162"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    env.wait("the commands to start", Duration::from_secs(10), || {
        sleeping("616").len() == 4
    });
    kill9(cli.id() as i32);
    let _ = cli.wait();
    env.wait(
        "abandoned commands to be killed",
        Duration::from_secs(10),
        || sleeping("616").is_empty(),
    );

    let ends = audit_ends(&env);
    let cancelled = ends
        .iter()
        .filter(|r| r["outcome"].as_str().unwrap_or("").starts_with("cancelled"))
        .count();
    assert!(cancelled >= 2, "{ends:?}");
    assert!(ends.iter().any(|r| r["exit_code"] == 124), "{ends:?}");
}

#[test]
fn offline_and_lost_vms_are_reported_while_the_rest_complete() {
    let env = Env::new();
    env.ok(&["new", "--name", "o", "--pool", "3"]);

    // A stopped VM named outright is reported; the others run.
    env.ok(&["stop", "o-3"]);
    let out = env.run(&["exec", "--vm", "o-1", "--vm", "o-3", "--", "echo", "ran"]);
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "o-1: ran");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("o-3: offline: not connected"), "{err}");
    // `azlin --` means the running VMs only.
    let out = env.ok(&["--", "echo", "ran"]);
    assert_eq!(out.lines().count(), 2, "{out}");

    // A VM lost mid-command fails when its link times out; the rest finish.
    let mut cli = env
        .command(&[
            "exec",
            "--json",
            "--vm",
            "o-1",
            "--vm",
            "o-2",
            "--",
            "sleep 7171; echo done",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    env.wait("the commands to start", Duration::from_secs(10), || {
        sleeping("7171").len() == 2
    });
    kill9(env.agent_pid("o-2").unwrap());
    // The lost agent's command is an orphan now; end it so o-1 can finish.
    let code = {
        let orphan_killer = {
            let pids = sleeping("7171");
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(500));
                for p in pids {
                    kill9(p);
                }
            })
        };
        let code = wait_exit(&mut cli);
        orphan_killer.join().unwrap();
        code
    };
    let mut text = String::new();
    cli.stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let results: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 2, "{text}");
    let lost = results.iter().find(|r| r["vm"] == "o-2").unwrap();
    assert!(
        lost["error"].as_str().unwrap().contains("connection lost"),
        "{lost}"
    );
    // o-1's sleep was killed too; its shell went on to the echo.
    let other = results.iter().find(|r| r["vm"] == "o-1").unwrap();
    assert_eq!(other["exit_code"], 0, "{other}");
    assert_eq!(other["stdout"], "done\n", "{other}");
    assert_eq!(code, 255);
}

#[test]
fn huge_output_streams_byte_for_byte_in_bounded_memory() {
    let env = Env::new();
    env.ok(&["new", "--name", "big"]);
    const SIZE: usize = 96 << 20;
    // The daemon's and agent's peaks before the output starts: most of an
    // idle debug daemon's resident set is its own code (about 26 of 30 MiB
    // are pages of the binary), which says nothing about buffering.
    let hwm = |pid| proc_stats::status_bytes(pid, "VmHWM").unwrap();
    let daemon_idle = hwm(env.daemon_pid().unwrap());
    let agent_idle = hwm(env.agent_pid("big").unwrap());
    // Random bytes, so any loss, duplication or re-encoding shows.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blob");
    {
        let mut urandom = std::fs::File::open("/dev/urandom").unwrap();
        let mut blob = std::fs::File::create(&file).unwrap();
        std::io::copy(&mut (&mut urandom).take(SIZE as u64), &mut blob).unwrap();
    }
    let mut cli = env
        .command(&[
            "exec",
            "--vm",
            "big",
            "--",
            &format!("cat {}", file.display()),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = cli.stdout.take().unwrap();
    let mut expected = std::fs::File::open(&file).unwrap();
    let (mut got, mut want) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let mut total = 0usize;
    loop {
        let n = out.read(&mut got).unwrap();
        if n == 0 {
            break;
        }
        expected.read_exact(&mut want[..n]).unwrap();
        assert!(got[..n] == want[..n], "output differs at byte {total}");
        total += n;
    }
    assert_eq!(total, SIZE);
    assert_eq!(wait_exit(&mut cli), 0);

    // Each hop held far less than what went through it. The CLI is this
    // test's child, so its whole peak is in our children's rusage; for the
    // two long-lived processes, what the relay added to the peak counts.
    let cli_peak = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss() as u64
        * 1024;
    assert!(
        cli_peak < SIZE as u64 / 3,
        "cli peaked at {} MiB for {} MiB of output",
        cli_peak >> 20,
        SIZE >> 20
    );
    let daemon = hwm(env.daemon_pid().unwrap()) - daemon_idle;
    let agent = hwm(env.agent_pid("big").unwrap()) - agent_idle;
    for (who, grew) in [("daemon", daemon), ("agent", agent)] {
        assert!(
            grew < SIZE as u64 / 8,
            "{who}'s peak grew by {} MiB while {} MiB of output went through it",
            grew >> 20,
            SIZE >> 20
        );
    }
}
