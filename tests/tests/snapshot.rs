//! `azlin snapshot` on local VMs end to end (real agents, the real
//! daemon): a file written before a snapshot is there after a restore and
//! one written after is gone; the VM comes back with the certificate it
//! had, no new enrollment; what it had is kept aside; bad names, unknown
//! snapshots, another VM's snapshot and a missing terminal are refused
//! with nothing changed; `--dry-run` changes nothing; delete removes the
//! copy and the record.

use std::time::Duration;

use azlin_controller::state::Db;
use azlin_e2e::Env;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn on(env: &Env, vm: &str, script: &str) -> String {
    env.ok(&["exec", "--vm", vm, "--", script])
}

#[test]
fn a_local_vm_is_restored_to_its_snapshot_and_comes_back_with_its_certificate() {
    let env = Env::new();
    env.ok(&["new", "--name", "sv"]);
    env.wait("connected", WAIT, || env.connected("sv"));
    on(&env, "sv", "echo before > ~/kept.txt");

    let out = env.ok(&["snapshot", "create", "sv", "--name", "sv-one"]);
    assert!(out.contains("sv-one"), "{out}");
    let copy = env.home().join("snapshots/local/sv-one/home/kept.txt");
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), "before\n");
    // The agent's identity stays out of the copy.
    assert!(!env.home().join("snapshots/local/sv-one/state").exists());

    on(
        &env,
        "sv",
        "echo after > ~/new.txt; echo changed > ~/kept.txt",
    );
    let list: Vec<Value> =
        serde_json::from_str(&env.ok(&["snapshot", "list", "sv", "--json"])).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["name"], "sv-one");
    assert_eq!(list[0]["vm"], "sv");
    assert_eq!(list[0]["provider"], "local");
    assert_eq!(list[0]["origin"], "manual");

    // Refused, nothing made or changed.
    for (args, says) in [
        (
            vec!["snapshot", "create", "sv", "--name", "Bad\u{1b}[2J"],
            "cannot be a snapshot name",
        ),
        (
            vec!["snapshot", "create", "sv", "--name", "sv-one"],
            "already",
        ),
        (
            vec!["snapshot", "restore", "sv", "nope", "--yes"],
            "no snapshot named",
        ),
        (
            vec!["snapshot", "restore", "sv", "sv-one"],
            "no terminal to ask on",
        ),
        (
            vec!["snapshot", "delete", "sv-one"],
            "no terminal to ask on",
        ),
    ] {
        let err = env.fails(&args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let plan = env.ok(&["snapshot", "restore", "sv", "sv-one", "--dry-run"]);
    assert!(plan.contains("would"), "{plan}");
    assert_eq!(
        on(&env, "sv", "cat ~/kept.txt ~/new.txt"),
        "changed\nafter\n"
    );
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&env.ok(&["snapshot", "list", "--json"]))
            .unwrap()
            .len(),
        1
    );

    let serial_before = env.cert_serial("sv");
    assert!(serial_before.is_some());
    let issued = env.daemon_status()["certificates_issued"].clone();
    let out = env.ok(&["snapshot", "restore", "sv", "sv-one", "--yes"]);
    assert!(out.contains("same certificate"), "{out}");
    assert!(env.connected("sv"));
    assert_eq!(
        on(
            &env,
            "sv",
            "cat ~/kept.txt; test -e ~/new.txt && echo new || echo no-new"
        ),
        "before\nno-new\n"
    );
    assert_eq!(env.cert_serial("sv"), serial_before, "enrolled again");
    assert_eq!(env.daemon_status()["certificates_issued"], issued);
    // What it had is kept beside it.
    let aside: Vec<_> = std::fs::read_dir(env.vm_dir("sv"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("home.before-sv-one-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read_to_string(aside[0].path().join("new.txt")).unwrap(),
        "after\n"
    );

    // Another VM is not restored to sv's snapshot.
    env.ok(&["new", "--name", "other"]);
    env.wait("other connected", WAIT, || env.connected("other"));
    on(&env, "other", "echo mine > ~/mine.txt");
    let err = env.fails(&["snapshot", "restore", "other", "sv-one", "--yes"]);
    assert!(err.contains("is of sv, not other"), "{err}");
    assert_eq!(on(&env, "other", "cat ~/mine.txt"), "mine\n");

    // Delete: --dry-run keeps it, --yes removes the copy and the record.
    let out = env.ok(&["snapshot", "delete", "sv-one", "--dry-run"]);
    assert!(out.contains("would delete"), "{out}");
    assert!(copy.exists());
    env.ok(&["snapshot", "delete", "sv-one", "--yes"]);
    assert!(!env.home().join("snapshots/local/sv-one").exists());
    assert!(env.ok(&["snapshot", "list"]).contains("no snapshots"));
    let err = env.fails(&["snapshot", "delete", "sv-one", "--yes"]);
    assert!(err.contains("no snapshot named"), "{err}");
}

fn alerts_history(env: &Env) -> Vec<Value> {
    let all: Value = serde_json::from_str(&env.ok(&["alerts", "--json"])).unwrap();
    all["history"].as_array().cloned().unwrap_or_default()
}

fn scheduled(env: &Env, vm: &str) -> Vec<String> {
    serde_json::from_str::<Vec<Value>>(&env.ok(&["snapshot", "list", vm, "--json"]))
        .unwrap()
        .into_iter()
        .filter(|s| s["origin"] == "schedule")
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_snapshot_schedule_runs_by_itself_prunes_to_keep_and_catches_up_after_a_restart() {
    let env = Env::new();
    env.ok(&["new", "--name", "sched"]);
    env.wait("connected", WAIT, || env.connected("sched"));
    assert!(
        env.ok(&["snapshot", "schedule", "list"])
            .contains("no snapshot schedules")
    );
    for (args, says) in [
        (vec!["sched", "--every", "5s"], "at least 10s for local VMs"),
        (vec!["sched", "--every", "soon"], "is not an interval"),
        (
            vec!["sched", "--every", "1h", "--keep", "0"],
            "--keep must be 1 to 100",
        ),
        (vec!["nowhere", "--every", "1h"], "no VM or session named"),
        (vec!["sched"], "name the VM and how often"),
    ] {
        let mut all = vec!["snapshot", "schedule"];
        all.extend(args);
        let err = env.fails(&all);
        assert!(err.contains(says), "{all:?}: {err}");
    }
    assert!(
        env.ok(&["snapshot", "schedule", "list"])
            .contains("no snapshot schedules")
    );

    // Taken by hand: never pruned by the schedule.
    env.ok(&["snapshot", "create", "sched", "--name", "by-hand"]);
    env.ok(&[
        "snapshot", "schedule", "sched", "--every", "10s", "--keep", "2",
    ]);
    let runs = |env: &Env| {
        alerts_history(env)
            .iter()
            .filter(|e| e["rule"] == "snapshot")
            .count()
    };
    env.wait("three scheduled runs", Duration::from_secs(90), || {
        runs(&env) >= 3
    });
    assert_eq!(scheduled(&env, "sched").len(), 2);
    assert!(env.ok(&["snapshot", "list", "sched"]).contains("by-hand"));
    let history = alerts_history(&env);
    assert!(
        history.iter().any(|e| e["rule"] == "snapshot"
            && e["message"]
                .as_str()
                .unwrap()
                .contains("deleted (keeping 2)")),
        "{history:?}"
    );

    // A failed run is an event too (to every channel): the VM's home is
    // away (root ignores modes, so a read-only folder would not do).
    let home = env.vm_dir("sched").join("home");
    let away = env.vm_dir("sched").join("home.away");
    std::fs::rename(&home, &away).unwrap();
    env.wait("a failed run", Duration::from_secs(60), || {
        alerts_history(&env)
            .iter()
            .any(|e| e["rule"] == "snapshot-failed")
    });
    std::fs::rename(&away, &home).unwrap();

    // Missed while the daemon was down: taken when it starts.
    env.ok(&[
        "snapshot", "schedule", "sched", "--every", "1d", "--keep", "2",
    ]);
    env.ok(&["daemon", "stop"]);
    let before = scheduled(&env, "sched");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Db::open(&env.home().join("state.db"))
        .unwrap()
        .snapshot_schedule_ran("sched", now - 3 * 86_400)
        .unwrap();
    env.wait("the missed snapshot", Duration::from_secs(60), || {
        let now = scheduled(&env, "sched");
        now.len() == 2 && now != before
    });
    let listed: Vec<Value> =
        serde_json::from_str(&env.ok(&["snapshot", "schedule", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["every_secs"], 86_400);
    assert!(listed[0]["next_due"].as_i64().unwrap() > now + 80_000);

    let out = env.ok(&["snapshot", "schedule", "clear", "sched"]);
    assert!(out.contains("cleared"), "{out}");
    let err = env.fails(&["snapshot", "schedule", "clear", "sched"]);
    assert!(err.contains("has no snapshot schedule"), "{err}");
}
