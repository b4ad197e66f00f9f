//! `azlin schedule` end to end on local VMs (real agents, the real
//! daemon): a stop that fell due a moment ago is run; one that fell due
//! hours before the schedule was set is not; a start brings a stopped VM
//! back; a stop that fell due while the daemon was not running is not
//! run late but reported (as an alert event); bad times, days and zones
//! are refused with nothing set.

use std::time::Duration;

use azlin_controller::state::Db;
use azlin_e2e::Env;

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

    // A start due this minute brings it back (the stop, two hours ago,
    // stays handled).
    env.ok(&[
        "schedule",
        "sv",
        "--stop",
        &clock(-120),
        "--start",
        &clock(0),
        "--tz",
        "UTC",
    ]);
    env.wait("the scheduled start", WAIT, || {
        state(&env, "sv") == "running"
    });
    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["schedule", "list", "--json"])).unwrap();
    assert_eq!(list[0]["vm"], "sv");
    assert_eq!(list[0]["days"], "daily");

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
