//! `azlin schedule` end to end on local VMs (real agents, the real
//! daemon): a stop that fell due a moment ago is run; one that fell due
//! hours before the schedule was set is not; a start brings a stopped VM
//! back; a stop that fell due while the daemon was not running is not
//! run late but reported (as an alert event); bad times, days and zones
//! are refused with nothing set. Idle autostop: of four VMs, the idle
//! one is warned about and then deallocated, while the one with a
//! terminal attached, the one running a command from azlin and the one
//! kept alive stay up.

use std::time::Duration;

use azlin_controller::state::Db;
use azlin_e2e::{Env, pty::Pty};

const WAIT: Duration = Duration::from_secs(60);

/// `HH:MM` in UTC, `minutes` from now.
fn clock(minutes: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t = (now + minutes * 60).rem_euclid(86400);
    format!("{:02}:{:02}", t / 3600, t / 60 % 60)
}

fn state(env: &Env, vm: &str) -> String {
    env.vm(vm)["state"].as_str().unwrap().to_string()
}

#[test]
fn schedules_stop_and_start_on_time_and_never_run_late() {
    let env = Env::new();
    env.ok(&["new", "--name", "sv"]);
    env.wait("connected", WAIT, || env.connected("sv"));

    // Refused, nothing set.
    for (args, says) in [
        (vec!["sv", "--stop", "25:00"], "is not a time of day"),
        (
            vec!["sv", "--stop", "19:00", "--days", "Funday"],
            "is not a set of days",
        ),
        (
            vec!["sv", "--stop", "19:00", "--tz", "Mars/Olympus"],
            "is not a time zone",
        ),
        (
            vec!["nowhere", "--stop", "19:00", "--tz", "UTC"],
            "no VM or session named",
        ),
        (vec!["sv"], "name the VM and its stop time"),
        (
            vec!["sv", "--stop", "19:00", "--start-days", "Mon"],
            "--start",
        ),
    ] {
        let mut all = vec!["schedule"];
        all.extend(args);
        let err = env.fails(&all);
        assert!(err.contains(says), "{all:?}: {err}");
    }
    assert!(env.ok(&["schedule", "list"]).contains("no schedules"));

    // A stop due two hours ago when the schedule is set: not run.
    let out = env.ok(&["schedule", "sv", "--stop", &clock(-120), "--tz", "UTC"]);
    assert!(out.contains("the daemon runs this schedule"), "{out}");
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(state(&env, "sv"), "running");

    // A stop due this minute: run.
    env.ok(&["schedule", "sv", "--stop", &clock(0), "--tz", "UTC"]);
    env.wait("the scheduled stop", WAIT, || {
        state(&env, "sv") == "stopped"
    });

    // A start due this minute on a day of its own brings it back (the
    // stop, on tomorrow's weekday only, is days old).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // 1970-01-01 was a Thursday (Monday-first index 3).
    let weekday = |days_on: u64| {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            [((now / 86400 + days_on + 3) % 7) as usize]
    };
    let out = env.ok(&[
        "schedule",
        "sv",
        "--stop",
        &clock(0),
        "--days",
        weekday(1),
        "--start",
        &clock(0),
        "--start-days",
        weekday(0),
        "--tz",
        "UTC",
    ]);
    assert!(
        out.contains(&format!(" {}, start ", weekday(1))),
        "the stop's and the start's days: {out}"
    );
    env.wait("the scheduled start", WAIT, || {
        state(&env, "sv") == "running"
    });
    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["schedule", "list", "--json"])).unwrap();
    assert_eq!(list[0]["vm"], "sv");
    assert_eq!(list[0]["days"], weekday(1));
    assert_eq!(list[0]["start_days"], weekday(0));

    // The daemon was not running when a stop fell due (its last handled
    // stop is older than that): not run late, reported.
    env.ok(&["daemon", "stop"]);
    {
        let db = Db::open(&env.home().join("state.db")).unwrap();
        let mut row = db.schedule("sv").unwrap().unwrap();
        row.done_stop = 0;
        db.set_schedule(&row).unwrap();
    }
    env.wait("the missed stop reported", WAIT, || {
        env.ok(&["alerts", "--json"])
            .contains("fell due while the daemon was not running")
    });
    assert_eq!(state(&env, "sv"), "running");

    assert!(env.ok(&["schedule", "clear", "sv"]).contains("cleared"));
    assert!(
        env.fails(&["schedule", "clear", "sv"])
            .contains("no schedule")
    );
}

#[test]
fn an_idle_vm_is_warned_about_then_deallocated_and_a_used_one_is_not() {
    let tmux = azlin_e2e::tmux::TmuxServer::named("azlin-as");
    let mut env = Env::new();
    env.set_var("TMUX_TMPDIR", tmux.tmpdir().to_string_lossy());
    env.ok(&["new", "--name", "idle", "--pool", "4"]);
    for vm in ["idle-1", "idle-2", "idle-3", "idle-4"] {
        env.wait("connected", WAIT, || env.connected(vm));
    }
    assert!(
        env.fails(&["autostop", "idle-1", "--idle", "soon"])
            .contains("not a duration")
    );
    assert!(
        env.fails(&["autostop", "idle-1", "--idle", "2s"])
            .contains("at least 10 s")
    );
    assert!(
        env.fails(&["keepalive", "idle-1", "1h"])
            .contains("no autostop")
    );

    // idle-2 has a terminal attached, idle-3 runs a command from azlin,
    // idle-4 is kept alive; CPU never counts as use here (--cpu 100).
    let mut cmd = env.command(&["connect", "idle-2", "--tmux", "work"]);
    cmd.env("TERM", "xterm-256color");
    let mut pty = Pty::spawn(cmd, 120, 30);
    let mark = pty.mark();
    pty.send("echo attached-$((6*7))\r");
    pty.wait_for(mark, "attached-42", WAIT);
    let long = {
        // Longer than the test: it ends with the VM's agent.
        let mut cmd = env.command(&["exec", "--vm", "idle-3", "--", "sleep 300"]);
        std::thread::spawn(move || cmd.output())
    };
    for vm in ["idle-1", "idle-2", "idle-3", "idle-4"] {
        env.ok(&["autostop", vm, "--idle", "20s", "--cpu", "100"]);
    }
    env.ok(&["keepalive", "idle-4", "10m"]);
    env.wait("the warning", WAIT, || {
        env.ok(&["alerts", "--json"])
            .contains("idle-1 has been idle")
    });
    env.wait("idle-1 deallocated", WAIT, || {
        state(&env, "idle-1") == "stopped"
    });
    std::thread::sleep(Duration::from_secs(10));
    for vm in ["idle-2", "idle-3", "idle-4"] {
        assert_eq!(state(&env, vm), "running", "{vm}");
    }
    let alerts = env.ok(&["alerts", "--json"]);
    for vm in ["idle-2", "idle-3", "idle-4"] {
        assert!(
            !alerts.contains(&format!("{vm} has been idle")),
            "{vm}: {alerts}"
        );
    }
    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["autostop", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 4);
    pty.send("\x02d");
    let _ = pty.wait_exit(WAIT);
    assert!(
        !long.is_finished(),
        "the command on idle-3 is still running"
    );
    assert!(
        env.ok(&["autostop", "idle-1", "--off"])
            .contains("no longer")
    );
}

/// A local VM whose agent's week was idle every night and all weekend:
/// `cost recommend` (no Azure to ask, and it says so) suggests a weekday
/// schedule priced at the notional figure of config.toml, and `cost
/// apply` sets it.
#[test]
fn a_local_vm_idle_at_night_gets_a_schedule_suggested_and_applied() {
    let env = Env::new();
    env.configure("[cost]\nnotional_per_hour = 0.05\n");
    env.ok(&["new", "--name", "office"]);
    env.wait("connected", WAIT, || env.connected("office"));
    // A week of its figures in this machine's zone: busy 08:00-19:59 on
    // weekdays, idle otherwise, and busy at this very hour (so its live
    // figures, written now, agree).
    let zone = jiff::tz::TimeZone::system();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let local = |t: i64| {
        jiff::Timestamp::from_second(t)
            .unwrap()
            .to_zoned_datetime(zone.clone())
    };
    let now_local = local(now);
    let hour_now = now_local.hour();
    let weekday_now = now_local.weekday().to_monday_zero_offset();
    let busy = |t: i64| {
        let at = local(t);
        let weekday = at.weekday().to_monday_zero_offset();
        let in_hours = (8..20).contains(&at.hour());
        // Now counts as office hours, whatever the clock says.
        (weekday < 5 && in_hours) || (weekday == weekday_now && at.hour() == hour_now)
    };
    {
        let mut db = Db::open(&env.home().join("state.db")).unwrap();
        let mut t = now - 7 * 86400 + 300;
        while t <= now - 3600 {
            let point = azlin_controller::telemetry::live::Point {
                cpu: if busy(t) { 30.0 } else { 1.0 },
                memory_used: 1 << 30,
                memory_total: 4 << 30,
                ..Default::default()
            };
            db.insert_points(t, &[("office".to_string(), point)])
                .unwrap();
            t += 300;
        }
    }
    let out = env.ok(&["cost", "recommend", "--json"]);
    let recs: serde_json::Value = serde_json::from_str(&out).unwrap();
    let notes = recs["notes"].to_string();
    assert!(notes.contains("Azure was not asked"), "{notes}");
    let list = recs["recommendations"].as_array().unwrap();
    let rec = list
        .iter()
        .find(|r| r["id"] == "schedule:office")
        .unwrap_or_else(|| panic!("no schedule suggested: {recs:#}"));
    let change = &rec["change"]["Schedule"];
    // The hour now was made busy: the night may be cut short by it, but
    // the weekend rule makes it a weekday schedule whatever the hour.
    let (stop, start) = (
        change["stop"].as_str().unwrap(),
        change["start"].as_str().unwrap(),
    );
    assert!(
        ["days", "start_days"]
            .iter()
            .all(|k| change[k] == "Mon,Tue,Wed,Thu,Fri")
            || change["days"] == "daily",
        "{rec:#}"
    );
    assert!(
        rec["saving_source"]
            .as_str()
            .unwrap()
            .starts_with("notional"),
        "{rec:#}"
    );
    assert!(rec["currency"].is_null(), "{rec:#}");
    assert!(rec["saving_per_month"].as_f64().unwrap() > 0.0, "{rec:#}");

    // Applied: the schedule is set, as suggested.
    let out = env.ok(&["cost", "apply", "schedule:office", "--yes"]);
    assert!(out.contains("done: schedule office"), "{out}");
    let set: serde_json::Value =
        serde_json::from_str(&env.ok(&["schedule", "list", "--json"])).unwrap();
    assert_eq!(set[0]["vm"], "office");
    assert_eq!(set[0]["stop"], stop);
    assert_eq!(set[0]["start"], start);
    // Applied once: it is no longer suggested.
    let again: serde_json::Value =
        serde_json::from_str(&env.ok(&["cost", "recommend", "--json"])).unwrap();
    assert!(!again.to_string().contains("schedule:office"), "{again:#}");
}
