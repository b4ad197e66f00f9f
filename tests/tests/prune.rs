//! `azlin prune` with real local VMs and a registered machine, their
//! history written into state.db as the daemon writes it: only the VM
//! stopped for longer than --idle-days (and older than that) is proposed;
//! one up two days ago, one used yesterday, a young one and a machine the
//! user runs are left alone, each with why; asking about more days than
//! the history keeps is refused; without a terminal nothing is deleted;
//! --yes deletes the candidate as `kill` does.

use std::time::Duration;

use azlin_controller::{state::Db, telemetry::live::Point};
use azlin_e2e::Env;
use serde_json::Value;

const DAY: i64 = 86400;

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[test]
fn only_vms_unused_for_the_days_asked_are_proposed_and_deleted() {
    let env = Env::with_listener();
    for vm in ["old", "recent", "busy", "young"] {
        env.ok(&["new", "--name", vm]);
    }
    env.ok(&["new", "--provider", "external", "--name", "theirs"]);
    for vm in ["old", "recent", "young"] {
        env.ok(&["stop", vm]);
    }
    let db_path = env.home().join("state.db");
    {
        let conn = rusqlite::Connection::open(&db_path).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        for vm in ["old", "recent", "busy", "theirs"] {
            conn.execute(
                "UPDATE vms SET created_at = ?1 WHERE name = ?2",
                rusqlite::params![now() - 30 * DAY, vm],
            )
            .unwrap();
        }
        // Nothing the agents reported before now counts: the samples are
        // the test's.
        conn.execute("DELETE FROM metrics WHERE vm IN ('old', 'recent')", [])
            .unwrap();
    }
    let sample = |cpu: f64| Point {
        cpu,
        memory_used: 1 << 30,
        memory_total: 4 << 30,
        ..Point::default()
    };
    {
        let mut db = Db::open(&db_path).unwrap();
        db.insert_points(now() - 10 * DAY, &[("old".into(), sample(40.0))])
            .unwrap();
        db.insert_points(now() - 2 * DAY, &[("recent".into(), sample(1.0))])
            .unwrap();
        db.insert_points(now() - DAY, &[("busy".into(), sample(60.0))])
            .unwrap();
    }

    let err = env.fails(&["prune", "--idle-days", "30", "--dry-run"]);
    assert!(err.contains("the history covers 7 days"), "{err}");

    let found: Value =
        serde_json::from_str(&env.ok(&["prune", "--idle-days", "7", "--dry-run", "--json"]))
            .unwrap();
    let candidates: Vec<&str> = found["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["vm"].as_str().unwrap())
        .collect();
    assert_eq!(candidates, ["old"], "{found:#}");
    assert!(
        found["candidates"][0]["why"]
            .as_str()
            .unwrap()
            .starts_with("stopped: no sample from its agent since"),
        "{found:#}"
    );
    let passed: Vec<(String, String)> = serde_json::from_value(found["passed"].clone()).unwrap();
    let why = |vm: &str| {
        passed
            .iter()
            .find(|(v, _)| v == vm)
            .map(|(_, w)| w.clone())
            .unwrap_or_default()
    };
    assert_eq!(why("recent"), "up in the last 7 days");
    assert_eq!(why("busy"), "used in the last 7 days");
    assert_eq!(why("young"), "younger than 7 days");
    assert!(why("theirs").contains("a machine you run"), "{passed:?}");

    let table = env.ok(&["prune", "--dry-run"]);
    assert!(table.contains("dry run: nothing deleted"), "{table}");
    let err = env.fails(&["prune"]);
    assert!(err.contains("no terminal to ask on"), "{err}");
    assert_eq!(env.list().len(), 5);

    let out = env.ok(&["prune", "--yes"]);
    assert!(out.contains("deleted old"), "{out}");
    let left: Vec<String> = env
        .list()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left.len(), 4, "{left:?}");
    assert!(!left.contains(&"old".to_string()), "{left:?}");
    assert!(!env.vm_dir("old").exists(), "its folder is kept");
    assert!(env.connected("busy"));
}
