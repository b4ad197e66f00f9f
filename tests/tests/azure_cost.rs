//! `azlin cost` and `azlin cost history` end to end: the real CLI and
//! daemon against the emulated ARM, whose Cost Management answers from
//! rows this test sets (so every total is known), pages them, and
//! throttles as Azure documents. Checked: sums by day and by VM (each VM
//! with its disk, NIC, public IP, unshared NSG and snapshots; the rest
//! shared), a range longer than 31 days asked in pieces, `nextLink`
//! followed, the Cost Management retry header waited out, answers kept
//! five minutes, no data shown as no data, bad dates refused before
//! anything is asked, the month's estimate from the running VMs' prices,
//! and the history kept in `state.db` with its trend and anomalies.

use azlin_controller::cost::dates::Day;
use azlin_e2e::{
    Env,
    arm::{cassette, emulator::Emulator, fake::FakeArm, fixtures_dir},
};
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-0000000000c0";

fn rg() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/costs")
}

fn id(kind: &str, name: &str) -> String {
    format!("{}/providers/{kind}/{name}", rg())
}

fn today() -> Day {
    Day::of_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    )
}

fn num(day: Day) -> u32 {
    day.number()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn cost_sums_by_day_and_vm_pages_splits_throttles_caches_and_keeps_history() {
    let fake = FakeArm::emulating(Emulator::new(1, None));
    let env = {
        let mut env = Env::new();
        env.configure(&format!(
            "[azure]\nsubscription = \"{SUB}\"\nresource_group = \"costs\"\nlocation = \"westus2\"\n"
        ));
        env.set_var("AZLIN_ARM_ENDPOINT", fake.base());
        env.set_var("AZLIN_ARM_TOKEN", "test-token");
        env.set_var("AZLIN_RETAIL_PRICES_ENDPOINT", fake.base());
        env
    };
    let today = today();
    // web: its own NSG and a public IP, and a snapshot of its OS disk.
    // db and db2 share an NSG, which is therefore nobody's. db2's size
    // has no pay-as-you-go price.
    let web_disk = id("Microsoft.Compute/disks", "web_OsDisk_1");
    fake.emulator(|e| {
        e.plant_vm(&rg(), "web", "Standard_D2s_v5", "web-nsg", true);
        e.plant_vm(&rg(), "db", "Standard_D4s_v5", "shared-nsg", false);
        e.plant_vm(&rg(), "db2", "Standard_B2s", "shared-nsg", false);
        e.plant(
            &id("Microsoft.Compute/snapshots", "web-snap"),
            json!({"location": "westus2", "properties": {
                "creationData": {"createOption": "Copy", "sourceResourceId": web_disk}}}),
        );
    });
    // Each resource's daily cost, over the last 95 days.
    let owned: Vec<(String, &str, f64)> = vec![
        (id("Microsoft.Compute/virtualMachines", "web"), "web", 2.0),
        (web_disk.clone(), "web", 0.25),
        (
            id("Microsoft.Network/networkInterfaces", "web-nic"),
            "web",
            0.01,
        ),
        (
            id("Microsoft.Network/publicIPAddresses", "web-ip"),
            "web",
            0.12,
        ),
        (
            id("Microsoft.Network/networkSecurityGroups", "web-nsg"),
            "web",
            0.02,
        ),
        (id("Microsoft.Compute/snapshots", "web-snap"), "web", 0.05),
        (id("Microsoft.Compute/virtualMachines", "db"), "db", 4.0),
        (id("Microsoft.Compute/disks", "db_OsDisk_1"), "db", 0.5),
        (
            id("Microsoft.Network/networkSecurityGroups", "shared-nsg"),
            "",
            0.03,
        ),
        (id("Microsoft.Storage/storageAccounts", "logs"), "", 0.4),
    ];
    let elsewhere = format!(
        "/subscriptions/{SUB}/resourceGroups/other/providers/Microsoft.Compute/virtualMachines/x"
    );
    let spike = today.plus(-20);
    fake.emulator(|e| {
        for back in 0..95 {
            let day = today.plus(-back);
            for (rid, _, cost) in &owned {
                let cost = if day == spike && rid.ends_with("/db") {
                    cost * 40.0
                } else {
                    *cost
                };
                e.cost
                    .rows
                    .push((num(day), rid.clone(), cost, "USD".into()));
            }
            e.cost
                .rows
                .push((num(day), elsewhere.clone(), 99.0, "USD".into()));
        }
        e.cost.page_size = 50;
    });
    let cost_json = |args: &[&str]| -> Value {
        let mut all = vec!["cost", "--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&env.ok(&all)).unwrap()
    };
    let requests = || fake.emulator(|e| e.cost.requests);

    // 61 days: two queries' worth of days, each paged.
    let (from, to) = (today.plus(-70), today.plus(-10));
    let report = cost_json(&[
        "--by-vm",
        "--from",
        &from.to_string(),
        "--to",
        &to.to_string(),
    ]);
    let per_day: f64 = owned.iter().map(|(_, _, c)| c).sum();
    let spike_extra = 4.0 * 39.0;
    assert!(close(
        report["total"].as_f64().unwrap(),
        61.0 * per_day + spike_extra
    ));
    assert_eq!(report["currency"], "USD");
    assert_eq!(report["days"].as_array().unwrap().len(), 61);
    let vm_total = |vm: &str| {
        report["by_vm"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["vm"] == vm)
            .unwrap_or_else(|| panic!("{vm} in {report}"))
            .clone()
    };
    let owned_by = |vm: &str| -> f64 {
        owned
            .iter()
            .filter(|(_, o, _)| *o == vm)
            .map(|(_, _, c)| c)
            .sum()
    };
    assert!(close(
        vm_total("web")["cost"].as_f64().unwrap(),
        61.0 * owned_by("web")
    ));
    assert_eq!(vm_total("web")["resources"], 6);
    assert!(close(
        vm_total("db")["cost"].as_f64().unwrap(),
        61.0 * owned_by("db") + spike_extra
    ));
    assert!(close(
        report["shared"].as_f64().unwrap(),
        61.0 * owned_by("")
    ));
    // The other group's VM is not in this group's bill.
    assert!(!report.to_string().contains("/other/"));
    let bodies = fake.emulator(|e| e.cost.bodies.clone());
    let periods: Vec<(String, String)> = bodies
        .iter()
        .map(|b| {
            (
                b["timePeriod"]["from"].as_str().unwrap()[..10].to_string(),
                b["timePeriod"]["to"].as_str().unwrap()[..10].to_string(),
            )
        })
        .collect();
    let mut distinct = periods.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 2, "{periods:?}");
    assert_eq!(distinct[0].0, from.to_string());
    assert_eq!(distinct[1].1, to.to_string());
    assert!(requests() > 2, "pages were followed: {}", requests());
    assert_eq!(report["queries"].as_u64().unwrap(), u64::from(requests()));

    // Asked again within five minutes: from the cache, nothing asked.
    let before = requests();
    let again = cost_json(&["--from", &from.to_string(), "--to", &to.to_string()]);
    assert_eq!(requests(), before);
    assert_eq!(again["queries"], 0);
    assert_eq!(again["total"], report["total"]);

    // Throttled: the wait Cost Management asks is waited out.
    fake.emulator(|e| e.cost.throttled = 2);
    let week = cost_json(&[
        "--from",
        &today.plus(-7).to_string(),
        "--to",
        &today.plus(-1).to_string(),
    ]);
    assert!(close(week["total"].as_f64().unwrap(), 7.0 * per_day));
    assert_eq!(fake.emulator(|e| (e.cost.throttled, e.cost.early)), (0, 0));

    // A range Azure has nothing for: no data, never $0.00.
    let old = today.plus(-200);
    let text = env.ok(&[
        "cost",
        "--from",
        &old.to_string(),
        "--to",
        &old.plus(3).to_string(),
    ]);
    assert!(
        text.contains("no data yet (Azure reports cost with up to 24 h delay)"),
        "{text}"
    );
    assert!(!text.contains("0.00"), "{text}");

    // Bad dates: refused before anything is asked.
    let before = requests();
    let err = env.fails(&["cost", "--from", &to.to_string(), "--to", &from.to_string()]);
    assert!(err.contains("is after --to"), "{err}");
    assert!(
        env.fails(&["cost", "--from", "2026-13-01"])
            .contains("is not a date")
    );
    let err = env.fails(&["cost", "--to", &today.plus(2).to_string()]);
    assert!(err.contains("Azure bills no day ahead"), "{err}");
    assert_eq!(requests(), before);

    // The month: Azure's figure so far, and the rest at the running VMs'
    // prices (db2's size has none: left out, and said).
    let est = cost_json(&["--estimate"]);
    let e = &est["estimate"];
    let days_so_far = today.first_of_month().days_until(today) + 1;
    assert!(close(
        e["month_to_date"].as_f64().unwrap(),
        days_so_far as f64 * per_day
            + if spike >= today.first_of_month() {
                spike_extra
            } else {
                0.0
            }
    ));
    assert!(close(e["burn_per_hour"].as_f64().unwrap(), 0.096 + 0.192));
    assert_eq!(e["unpriced"][0][0], "db2");
    assert!(close(
        e["projected"].as_f64().unwrap(),
        e["month_to_date"].as_f64().unwrap() + e["rest_of_month"].as_f64().unwrap()
    ));
    let text = env.ok(&["cost", "--estimate"]);
    assert!(
        text.contains("Retail Prices API") && text.contains("not in the burn:  db2"),
        "{text}"
    );

    // The dashboard: one screen of figures, from one query.
    let dash: Value = serde_json::from_str(&env.ok(&["cost", "dashboard", "--json"])).unwrap();
    let in_window = |a: i64, b: i64| -> f64 {
        (a..=b)
            .map(|back| {
                let day = today.plus(-back);
                per_day + if day == spike { spike_extra } else { 0.0 }
            })
            .sum()
    };
    assert!(close(dash["today"].as_f64().unwrap(), per_day));
    assert!(close(dash["yesterday"].as_f64().unwrap(), per_day));
    assert!(close(dash["week"].as_f64().unwrap(), in_window(0, 6)));
    assert!(close(
        dash["previous_week"].as_f64().unwrap(),
        in_window(7, 13)
    ));
    assert!(close(
        dash["month_to_date"].as_f64().unwrap(),
        e["month_to_date"].as_f64().unwrap()
    ));
    assert_eq!(dash["top"][0]["vm"], "db");
    assert_eq!(dash["top"][0]["kind"], "microsoft.compute/virtualmachines");
    let screen = env.ok(&["cost", "dashboard", "--once"]);
    assert!(
        screen.contains("this month so far") && screen.contains("TOP THIS MONTH"),
        "{screen}"
    );

    // History: complete days kept once, the trend, and the spike.
    let history = |days: &str| -> Value {
        serde_json::from_str(&env.ok(&["cost", "history", "--days", days, "--json"])).unwrap()
    };
    let h = history("60");
    let kept = h["days"].as_array().unwrap();
    assert_eq!(kept.len(), 59, "today is not complete, so not kept");
    assert_eq!(
        h["trend"]["anomalies"],
        json!([[spike.to_string(), per_day + spike_extra]])
    );
    assert_eq!(h["trend"]["direction"], "Stable");
    let h2 = history("60");
    assert_eq!(h2["days"], h["days"], "kept again, not twice");
    // Azure unreachable: the kept days, and why they may be behind.
    let mut offline = env;
    offline.set_var("AZLIN_ARM_ENDPOINT", "http://127.0.0.1:9");
    let h3: Value =
        serde_json::from_str(&offline.ok(&["cost", "history", "--days", "30", "--json"])).unwrap();
    assert_eq!(h3["days"].as_array().unwrap().len(), 29);
    assert!(h3["stale"].is_string(), "{h3}");
}

/// Azure's own recorded usage (`az consumption usage list`, 2018): its
/// rows parse, and, reported by Cost Management (moved to two days ago),
/// they are summed by VM although the bill spells the resource group
/// `LINUXTEST` and ARM `linuxtest`; the storage accounts no VM owns are
/// shared, at their recorded zero (a zero Azure reported, shown as such).
#[test]
fn recorded_usage_is_summed_by_vm_whatever_the_case_of_its_ids() {
    const RECORDED_SUB: &str = "00000000-0000-0000-0000-000000000000";
    let recording = cassette::load(
        &fixtures_dir().join("recordings/azure-cli/consumption/test_consumption_usage_list.yaml"),
    );
    let page: Value = serde_json::from_str(&recording[0].body).unwrap();
    assert!(page["nextLink"].as_str().unwrap().contains("skiptoken"));
    let day = today().plus(-2);
    let mut rows = Vec::new();
    for usage in page["value"].as_array().unwrap() {
        let p = &usage["properties"];
        let start = p["usageStart"].as_str().unwrap();
        assert!(Day::parse(&start[..10]).is_ok(), "{start}");
        rows.push((
            p["instanceId"].as_str().unwrap().to_string(),
            p["pretaxCost"].as_f64().unwrap(),
            p["currency"].as_str().unwrap().to_string(),
        ));
    }
    assert_eq!(rows.len(), 5);
    let recorded = |vm: &str| -> f64 {
        rows.iter()
            .filter(|(id, ..)| id.ends_with(&format!("/virtualMachines/{vm}")))
            .map(|(_, c, _)| c)
            .sum()
    };
    let fake = FakeArm::emulating(Emulator::new(1, None));
    fake.emulator(|e| {
        let group = |g: &str| format!("/subscriptions/{RECORDED_SUB}/resourceGroups/{g}");
        e.plant_vm(
            &group("linuxtest"),
            "linuxtest",
            "Standard_B1s",
            "lt-nsg",
            false,
        );
        e.plant_vm(
            &group("testrgukwest"),
            "testwindows",
            "Standard_D2s_v5",
            "tw-nsg",
            false,
        );
        for (id, cost, currency) in &rows {
            e.cost
                .rows
                .push((day.number(), id.clone(), *cost, currency.clone()));
        }
    });
    let mut env = Env::new();
    env.configure(&format!(
        "[azure]\nsubscription = \"{RECORDED_SUB}\"\nresource_group = \"linuxtest\"\nlocation = \"westus2\"\n"
    ));
    env.set_var("AZLIN_ARM_ENDPOINT", fake.base());
    env.set_var("AZLIN_ARM_TOKEN", "test-token");
    env.set_var("AZLIN_RETAIL_PRICES_ENDPOINT", fake.base());
    let report: Value = serde_json::from_str(&env.ok(&[
        "cost",
        "--json",
        "--by-vm",
        "--whole-subscription",
        "--from",
        &day.to_string(),
        "--to",
        &day.to_string(),
    ]))
    .unwrap();
    assert_eq!(report["currency"], "USD");
    let by_vm = report["by_vm"].as_array().unwrap();
    let of = |vm: &str| {
        by_vm
            .iter()
            .find(|v| v["vm"] == vm)
            .unwrap_or_else(|| panic!("{vm} in {report:#}"))
            .clone()
    };
    assert!(close(
        of("linuxtest")["cost"].as_f64().unwrap(),
        recorded("linuxtest")
    ));
    assert_eq!(of("linuxtest")["resources"], 1);
    assert!(close(
        of("testwindows")["cost"].as_f64().unwrap(),
        recorded("testwindows")
    ));
    assert!(close(report["shared"].as_f64().unwrap(), 0.0), "{report:#}");
    let total: f64 = rows.iter().map(|(_, c, _)| c).sum();
    assert!(close(report["total"].as_f64().unwrap(), total));
}

#[test]
fn cost_without_a_subscription_says_what_to_set() {
    let env = Env::new();
    let err = env.fails(&["cost"]);
    assert!(err.contains("no subscription is set"), "{err}");
}

#[test]
fn vms_with_no_bill_show_a_notional_figure_only_when_one_is_set() {
    let env = Env::new();
    env.ok(&["new", "--name", "lv"]);
    let list = env.ok(&["list"]);
    assert!(!list.contains("notional"), "{list}");
    assert!(env.list()[0]["notional_per_hour"].is_null());
    env.configure("[cost]\nnotional_per_hour = 0.05\n");
    env.ok(&["daemon", "stop"]);
    let list = env.ok(&["list"]);
    assert!(list.contains("0.0500*"), "{list}");
    assert!(list.contains("* notional"), "{list}");
    assert_eq!(env.list()[0]["notional_per_hour"], 0.05);
    let status = env.ok(&["status", "lv"]);
    assert!(status.contains("0.0500/h notional"), "{status}");
    // Still no bill to read, and a figure that cannot be is refused.
    assert!(env.fails(&["cost"]).contains("no subscription is set"));
    std::fs::write(
        env.home().join("config.toml"),
        "[cost]\nnotional_per_hour = -1\n",
    )
    .unwrap();
    assert!(env.fails(&["list"]).contains("cost.notional_per_hour"));
}
