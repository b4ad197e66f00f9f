//! `azlin cost recommend` and `azlin cost apply` end to end, against the
//! emulated ARM and Cost Management: a fleet VM whose agent's week (a
//! week of points written to its history) says it is oversized is
//! recommended the next size down with both prices; a VM stopped but not
//! deallocated, an unattached disk, a public IP on nothing and an old
//! snapshot are found, with savings from Azure's actual cost; what is in
//! use is not. `apply --dry-run` changes nothing; `apply --yes` resizes,
//! deallocates and deletes; an ID that does not apply is refused before
//! anything is done.

use azlin_controller::{cost::dates::Day, state::Db, telemetry::live::Point};
use azlin_e2e::arm::azure_env::AzureEnv;
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-0000000000d0";

#[test]
fn waste_is_found_priced_and_cut_only_when_asked() {
    let az = AzureEnv::new(SUB, "lean", "");
    let (env, fake) = (&az.env, &az.fake);
    let rg = az.rg();
    env.ok(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "ours",
        "--size",
        "Standard_D4s_v5",
        "--no-dev-tools",
        "--yes",
    ]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let today = Day::of_unix(now);
    // A week of its agent's figures: never above 14% CPU or 30% memory,
    // and idle (1%) for twelve hours a day in this machine's zone: from
    // ten hours after this one to two hours before it (so the agent's own
    // live figures, written now, fall in busy hours).
    let zone = jiff::tz::TimeZone::system();
    let hour_now = jiff::Timestamp::from_second(now)
        .unwrap()
        .to_zoned_datetime(zone.clone())
        .hour();
    let busy_hour = |hour: i8| {
        let offset = (hour + 24 - hour_now) % 24;
        !(10..22).contains(&offset)
    };
    let (idle_from, idle_to) = ((hour_now + 10) % 24, (hour_now + 22) % 24);
    {
        let mut db = Db::open(&env.home().join("state.db")).unwrap();
        for i in 0..2000i64 {
            let t = now - 7 * 86400 + 300 + i * 300;
            if t > now {
                break;
            }
            let hour = jiff::Timestamp::from_second(t)
                .unwrap()
                .to_zoned_datetime(zone.clone())
                .hour();
            let point = Point {
                cpu: if busy_hour(hour) {
                    (i % 12) as f64 + 3.0
                } else {
                    1.0
                },
                memory_used: 3 << 30,
                memory_total: 16 << 30,
                ..Point::default()
            };
            db.insert_points(t, &[("ours".to_string(), point)]).unwrap();
        }
    }
    let old = today.plus(-60).to_string();
    fake.emulator(|e| {
        e.plant_vm(&rg, "sleepy", "Standard_D2s_v5", "sleepy-nsg", false);
        e.set_power(
            &format!("{rg}/providers/Microsoft.Compute/virtualMachines/sleepy"),
            "stopped",
        );
        e.plant_vm(&rg, "busy", "Standard_D2s_v5", "busy-nsg", true);
        e.plant(
            &format!("{rg}/providers/Microsoft.Compute/disks/orphan"),
            json!({"location": "westus2", "properties": {"diskState": "Unattached",
                   "diskSizeGB": 128, "timeCreated": format!("{old}T10:00:00.0000000+00:00")}}),
        );
        e.plant(
            &format!("{rg}/providers/Microsoft.Network/publicIPAddresses/loose-ip"),
            json!({"location": "westus2", "properties": {"publicIPAllocationMethod": "Static"}}),
        );
        e.plant(
            &format!("{rg}/providers/Microsoft.Compute/snapshots/ancient"),
            json!({"location": "westus2", "properties": {"creationData": {"createOption": "Copy"},
                   "timeCreated": format!("{old}T10:00:00.0000000+00:00")}}),
        );
        e.plant(
            &format!("{rg}/providers/Microsoft.Compute/snapshots/fresh"),
            json!({"location": "westus2", "properties": {"creationData": {"createOption": "Copy"},
                   "timeCreated": format!("{today}T01:00:00.0000000+00:00")}}),
        );
        // The orphan disk cost 0.5 a day for the last 30 days.
        for back in 1..=30 {
            let day: u32 = today.plus(-back).number();
            e.cost.rows.push((
                day,
                format!("{rg}/providers/Microsoft.Compute/disks/orphan"),
                0.5,
                "USD".into(),
            ));
        }
    });
    let recs: Value = serde_json::from_str(&env.ok(&["cost", "recommend", "--json"])).unwrap();
    let ids: Vec<&str> = recs["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "deallocate:sleepy",
            "delete-disk:orphan",
            "delete-ip:loose-ip",
            "delete-snapshot:ancient",
            "resize:ours",
            "schedule:ours"
        ],
        "{recs:#}"
    );
    let rec = |id: &str| {
        recs["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    let resize = rec("resize:ours");
    assert_eq!(resize["change"]["Resize"]["to"], "Standard_D2s_v5");
    assert!((resize["saving_per_month"].as_f64().unwrap() - 0.096 * 730.0).abs() < 1e-6);
    assert_eq!(resize["priority"], "High");
    assert!(resize["reason"].as_str().unwrap().contains("$0.1920/h"));
    let schedule = rec("schedule:ours");
    assert_eq!(
        schedule["change"]["Schedule"]["stop"],
        format!("{idle_from:02}:00")
    );
    assert_eq!(
        schedule["change"]["Schedule"]["start"],
        format!("{idle_to:02}:00")
    );
    // Busy every day, the weekend too: a daily schedule.
    assert_eq!(schedule["change"]["Schedule"]["days"], "daily");
    assert_eq!(schedule["change"]["Schedule"]["start_days"], "daily");
    assert!(
        (schedule["saving_per_month"].as_f64().unwrap() - 0.192 * 12.0 * 730.0 / 24.0).abs() < 1e-6
    );
    let disk = rec("delete-disk:orphan");
    assert!((disk["saving_per_month"].as_f64().unwrap() - 15.0).abs() < 1e-6);
    assert_eq!(disk["saving_source"], "actual cost, last 30 days");
    // No figure from Azure for the loose IP: unknown, not zero.
    assert!(rec("delete-ip:loose-ip")["saving_per_month"].is_null());
    assert!(
        (rec("deallocate:sleepy")["saving_per_month"]
            .as_f64()
            .unwrap()
            - 0.096 * 730.0)
            .abs()
            < 1e-6
    );
    let text = env.ok(&["cost", "recommend"]);
    assert!(text.contains("saving: no figure yet"), "{text}");

    // --dry-run: the plan, nothing changed.
    let before = fake.emulator(|e| e.paths());
    let out = env.ok(&[
        "cost",
        "apply",
        "resize:ours",
        "deallocate:sleepy",
        "delete-disk:orphan",
        "--dry-run",
    ]);
    assert!(
        out.contains("would resize ours to Standard_D2s_v5"),
        "{out}"
    );
    assert_eq!(fake.emulator(|e| e.paths()), before);
    let vm = |name: &str| {
        fake.emulator(|e| {
            e.resource(&format!(
                "{rg}/providers/Microsoft.Compute/virtualMachines/{name}"
            ))
            .unwrap()
        })
    };
    assert_eq!(
        vm("ours")["properties"]["hardwareProfile"]["vmSize"],
        "Standard_D4s_v5"
    );
    // Without a terminal and without --yes: refused.
    assert!(
        env.fails(&["cost", "apply", "delete-disk:orphan"])
            .contains("--yes")
    );
    // An ID that does not apply: refused before anything is done.
    let err = env.fails(&[
        "cost",
        "apply",
        "delete-disk:orphan",
        "delete-disk:busy",
        "--yes",
    ]);
    assert!(
        err.contains("no recommendation \"delete-disk:busy\""),
        "{err}"
    );
    assert_eq!(fake.emulator(|e| e.paths()), before);

    // Applied.
    let out = env.ok(&[
        "cost",
        "apply",
        "resize:ours",
        "deallocate:sleepy",
        "delete-disk:orphan",
        "--yes",
    ]);
    assert_eq!(out.matches("done:").count(), 3, "{out}");
    assert_eq!(
        vm("ours")["properties"]["hardwareProfile"]["vmSize"],
        "Standard_D2s_v5"
    );
    assert_eq!(vm("sleepy")["powerState"], "deallocated");
    assert!(
        fake.emulator(|e| e.resource(&format!("{rg}/providers/Microsoft.Compute/disks/orphan")))
            .is_none()
    );
    assert_eq!(vm("busy")["powerState"], "running");

    // A daily stop of an Azure VM goes to Azure's own auto-shutdown, in
    // its Windows zone; on weekdays only it cannot, and says so.
    let shutdown = format!("{rg}/providers/Microsoft.DevTestLab/schedules/shutdown-computevm-ours");
    let out = env.ok(&[
        "schedule",
        "ours",
        "--stop",
        "19:00",
        "--tz",
        "Europe/Berlin",
    ]);
    assert!(out.contains("Azure auto-shutdown"), "{out}");
    let written = fake
        .emulator(|e| e.resource(&shutdown))
        .expect("auto-shutdown");
    assert_eq!(written["properties"]["dailyRecurrence"]["time"], "1900");
    assert_eq!(
        written["properties"]["timeZoneId"],
        "W. Europe Standard Time"
    );
    let out = env.ok(&[
        "schedule",
        "ours",
        "--stop",
        "19:00",
        "--days",
        "Mon-Fri",
        "--tz",
        "Europe/Berlin",
    ]);
    assert!(out.contains("daily only"), "{out}");
    assert!(fake.emulator(|e| e.resource(&shutdown)).is_none());
    env.ok(&[
        "schedule",
        "ours",
        "--stop",
        "18:30",
        "--tz",
        "America/New_York",
    ]);
    assert_eq!(
        fake.emulator(|e| e.resource(&shutdown)).unwrap()["properties"]["timeZoneId"],
        "Eastern Standard Time"
    );
    assert!(
        env.ok(&["schedule", "clear", "ours"])
            .contains("auto-shutdown in Azure")
    );
    assert!(fake.emulator(|e| e.resource(&shutdown)).is_none());
}
