//! `azlin connect` benchmark against OpenSSH on the same host and user.
//!
//! - Time to the first shell prompt drawn: from starting `azlin connect VM
//!   --tmux S` to the prompt on its terminal, against starting
//!   `ssh -t VM tmux new-session -A -s S` on a fresh connection (no
//!   ControlMaster) to a real sshd on loopback, through the config that
//!   `azlin ssh-config` writes. Both in a new tmux session each run (a new
//!   shell draws the prompt) and attaching to one that exists.
//! - Keystroke echo: type one character into the shell and time until its
//!   echo is drawn, through azlin's session and through ssh's.
//!
//! Both sides start the same tmux (a private server of the bench's) as the
//! same user. Prints a Markdown table. Run as root:
//!
//! cargo build --release --workspace && target/release/connect-bench [RUNS] [--rtt MS [--loss P]]
//!
//! With `--rtt`, both run across an emulated WAN link of that round trip
//! and loss percent (`azlin_e2e::wan_vm`): azlin's daemon and CLI and the
//! ssh client on one side, the agent and sshd on the other; the tmux
//! server, on this machine's file system, is the same one.
//!
//! Needs Debian's openssh-server and openssh-client, and tmux.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use azlin_e2e::{
    Env, bin, free_tcp,
    pty::Pty,
    sshd::{AuthorizedKeys, Sshd, point_vm_at},
    wan_vm,
};

const WAIT: Duration = Duration::from_secs(30);
/// Drawn at the end of the bench user's prompt and nowhere else.
const PROMPT_END: &str = "]bench$ ";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let rtt = wan_vm::flag(&args, "--rtt");
    let loss = wan_vm::flag(&args, "--loss").unwrap_or(0.0);
    let dir = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    // A tmux server of the bench's own, for both sides (the sshd gives
    // its logins this TMUX_TMPDIR).
    let tmux_dir = dir.path().join("tmux");
    std::fs::create_dir_all(&tmux_dir).unwrap();
    let _keys = AuthorizedKeys::keep();
    // SAFETY: set before any thread of ours starts.
    unsafe { std::env::set_var("TMUX_TMPDIR", &tmux_dir) };
    let wan = rtt.map(|rtt| {
        let w = wan_vm::start("azlin-cb", rtt, loss / 100.0, None, &["bench"], dir.path())
            .unwrap_or_else(|e| panic!("cannot make the WAN link: {e}"));
        println!("Across the emulated link: RTT {rtt} ms, loss {loss} %; both cross it.\n");
        w
    });
    let local = wan.is_none().then(|| {
        let port = free_tcp().port();
        let sshd = Sshd::start(dir.path(), port, &tmux_dir);
        let mut env = Env::new();
        env.set_var("TMUX_TMPDIR", tmux_dir.to_string_lossy());
        env.ok(&["new", "--name", "bench"]);
        point_vm_at(&env, "bench", dir.path(), port);
        (sshd, env)
    });
    let env = match (&wan, &local) {
        (Some(w), _) => &w.env,
        (None, Some((_, env))) => env,
        (None, None) => unreachable!("one or the other"),
    };
    env.ok(&["ssh-config"]);
    let config = env.home().join("ssh/config");
    // A prompt that is easy to spot, for both sides alike (tmux starts a
    // login shell, which reads ~/.profile and so ~/.bashrc).
    let rc = dir.path().join("bashrc");
    std::fs::write(&rc, format!("PS1='[\\u@\\h \\W{PROMPT_END}'\n")).unwrap();
    let shell = format!("bash --rcfile {} -i", rc.display());
    // One session holds the server (and so the setting) for the whole run,
    // as a developer's VM has its tmux server up.
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "holder",
        ";",
        "set",
        "-g",
        "default-command",
        &shell,
    ]);

    let azlin = |s: &str| {
        let mut c = env.command(&["connect", "bench", "--tmux", s]);
        c.env("TERM", "xterm");
        c
    };
    let ssh = |s: &str| {
        let mut c = match &wan {
            Some(w) => w.here("ssh"),
            None => Command::new("ssh"),
        };
        c.arg("-F")
            .arg(&config)
            .args(["-o", "ControlMaster=no", "-o", "ControlPath=none"])
            .args([
                "-t",
                "bench",
                "tmux",
                "-L",
                TMUX_SERVER,
                "new-session",
                "-A",
                "-s",
                s,
            ])
            .env("TERM", "xterm");
        c
    };
    // Warm both (binaries in the page cache, the daemon up).
    let _ = to_prompt(azlin("warm-a"), "warm-a", false);
    let _ = to_prompt(ssh("warm-s"), "warm-s", false);

    let mut rows = Vec::new();
    for (case, existing) in [("new tmux session", false), ("existing tmux session", true)] {
        let mut a = Vec::new();
        let mut s = Vec::new();
        for i in 0..runs {
            let name = format!("a{i}-{existing}");
            a.push(to_prompt(azlin(&name), &name, existing));
            let name = format!("s{i}-{existing}");
            s.push(to_prompt(ssh(&name), &name, existing));
        }
        rows.push((format!("connect to first prompt, {case}"), a, s));
    }
    let a = echo(azlin("echo-a"), runs * 10);
    let s = echo(ssh("echo-s"), runs * 10);
    rows.push(("keystroke echo".into(), a, s));
    tmux(&["kill-server"]);

    println!("| measure | azlin connect p50 | p90 | ssh -t … tmux p50 | p90 | ssh / azlin (p50) |");
    println!("|---|---|---|---|---|---|");
    for (name, mut a, mut s) in rows {
        let (ap50, ap90) = quantiles(&mut a);
        let (sp50, sp90) = quantiles(&mut s);
        println!(
            "| {name} | {} | {} | {} | {} | {:.1}× |",
            ms(ap50),
            ms(ap90),
            ms(sp50),
            ms(sp90),
            sp50.as_secs_f64() / ap50.as_secs_f64()
        );
    }
    println!(
        "\n{runs} runs each (echo: {} keystrokes each); azlin {}",
        runs * 10,
        bin("azlin").display()
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn quantiles(v: &mut [Duration]) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[(v.len() * 9 / 10).min(v.len() - 1)])
}

/// The VM's own tmux server (`[telemetry] tmux_server` of a local VM
/// and of the WAN VMs: `azlin-NAME`), which ssh's side uses too.
const TMUX_SERVER: &str = "azlin-bench";

fn tmux(args: &[&str]) {
    let _ = Command::new("tmux")
        .env_remove("TMUX")
        .args(["-L", TMUX_SERVER])
        .args(args)
        .stderr(Stdio::null())
        .status();
}

/// Start `cmd` on a terminal and time it to the first prompt; then leave
/// the tmux session (or, for `existing`, measure a second attach to it).
fn to_prompt(cmd: Command, session: &str, existing: bool) -> Duration {
    if existing {
        tmux(&["new-session", "-d", "-s", session]);
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut pty = Pty::spawn(cmd, 100, 30);
    let took = pty.wait_for(0, PROMPT_END, WAIT);
    tmux(&["kill-session", "-t", session]);
    pty.wait_exit(WAIT);
    took
}

/// Type a character and time until it is drawn, `count` times, in one
/// session. Escape sequences are left out when looking for it, so a letter
/// inside a cursor movement never counts as the echo.
fn echo(cmd: Command, count: usize) -> Vec<Duration> {
    let mut pty = Pty::spawn(cmd, 100, 30);
    pty.wait_for(0, PROMPT_END, WAIT);
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        if i % 40 == 39 {
            // Clear the line (untimed) so it never wraps.
            pty.send("\x15");
            std::thread::sleep(Duration::from_millis(50));
        }
        let c = b'a' + (i % 26) as u8;
        let mark = pty.mark();
        let start = std::time::Instant::now();
        pty.send(&char::from(c).to_string());
        pty.wait_until(mark, WAIT, |tail| plain_text(tail).contains(&c))
            .expect("the keystroke was echoed");
        times.push(start.elapsed());
    }
    pty.send("\x15exit\r");
    pty.wait_exit(WAIT);
    times
}

/// `bytes` without ANSI escape sequences (CSI, OSC, and two-byte ones).
fn plain_text(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != 0x1b {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        i += 1;
        match bytes.get(i) {
            Some(b'[') => {
                i += 1;
                while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                    i += 1;
                }
                i += 1;
            }
            Some(b']') => {
                while i < bytes.len() && bytes[i] != 0x07 && bytes[i] != 0x1b {
                    i += 1;
                }
                i += 1;
            }
            Some(_) => i += 1,
            None => {}
        }
    }
    out
}
