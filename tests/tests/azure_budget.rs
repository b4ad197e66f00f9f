//! `azlin cost budget` end to end: the real CLI and daemon against the
//! emulated ARM and Cost Management, a real webhook server as the alert
//! channel, and a real agent for the one VM azlin made. This month's
//! cost (rows this test sets) crosses the thresholds: each crossing is
//! delivered once, a daemon restart (whose first act is to check the
//! budgets again) delivers nothing more, and `stop` gives notice, waits
//! its grace (a pending stop shows, and a shorter grace set later is
//! taken), then deallocates the VM azlin made but not the one it did not,
//! and says so in one more event. `--azure` writes a budget that
//! the emulator checks as the Budgets API documents; `clear` removes it.

use std::time::Duration;

use azlin_controller::cost::dates::Day;
use azlin_e2e::{arm::azure_env::AzureEnv, webhook::WebhookServer};
use serde_json::Value;

const SUB: &str = "00000000-0000-0000-0000-0000000000b0";
// Only budget events may reach the webhook: on a loaded machine an agent
// can be silent past agent_lost's 5 s, and that alert would be counted.
const QUIET: &str = "[builtin.agent_lost]\nenabled = false\n[builtin.idle]\nenabled = false\n[builtin.tmux_session_ended]\nenabled = false\n[builtin.disk_full]\nenabled = false\n";

fn today() -> Day {
    Day::of_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    )
}

#[test]
fn crossings_are_delivered_once_stop_deallocates_only_azlins_vms_and_azure_gets_the_budget() {
    let hook = WebhookServer::start(0);
    let az = AzureEnv::new(SUB, "spend", "");
    let (env, fake) = (&az.env, &az.fake);
    env.write_alert_rules(&format!(
        "{QUIET}[channels.webhook]\nurl = \"{}\"\n",
        hook.url()
    ));
    let rg = az.rg();
    env.ok(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "ours",
        "--no-dev-tools",
    ]);
    fake.emulator(|e| e.plant_vm(&rg, "theirs", "Standard_D2s_v5", "theirs-nsg", true));
    let power = |vm: &str| {
        fake.emulator(|e| {
            e.resource(&format!(
                "{rg}/providers/Microsoft.Compute/virtualMachines/{vm}"
            ))
            .unwrap()["powerState"]
                .as_str()
                .unwrap()
                .to_string()
        })
    };
    assert_eq!(power("ours"), "running");

    // This month: 10 USD a day on ours, today included.
    let today = today();
    let days = today.first_of_month().days_until(today) + 1;
    let spent = 10.0 * days as f64;
    fake.emulator(|e| {
        for back in 0..days {
            let day: u32 = today.plus(-back).number();
            e.cost.rows.push((
                day,
                format!("{rg}/providers/Microsoft.Compute/virtualMachines/ours"),
                10.0,
                "USD".into(),
            ));
        }
    });

    // Bad input changes nothing.
    for (args, says) in [
        (vec!["-5"], "not a positive number"),
        (
            vec!["100", "--threshold", "80:shout"],
            "is not PERCENT:ACTION",
        ),
        (
            vec!["100", "--threshold", "80:alert", "--threshold", "80:stop"],
            "given twice",
        ),
        (vec!["100", "--email", "a@b.c"], "needs --azure"),
        (vec!["100", "--azure"], "--email"),
        (vec!["100", "--stop-grace", "soon"], "--stop-grace"),
        (vec!["100", "--stop-grace", "2d"], "--stop-grace"),
    ] {
        let mut all = vec!["cost", "budget", "set"];
        all.extend(args);
        let err = env.fails(&all);
        assert!(err.contains(says), "{all:?}: {err}");
    }
    assert!(
        env.ok(&["cost", "budget", "show"])
            .contains("no budget here")
    );

    // A budget this month has passed the 80% and 100% of: two events,
    // and the stop, after its notice, deallocates ours only.
    let amount = format!("{:.2}", spent / 1.1);
    let set = |grace: &str| {
        env.ok(&[
            "cost",
            "budget",
            "set",
            &amount,
            "--threshold",
            "80:alert",
            "--threshold",
            "100:stop",
            "--threshold",
            "500:notify",
            "--stop-grace",
            grace,
        ])
    };
    let out = set("1h");
    assert!(out.contains("reached: 80:alert 100:stop"), "{out}");
    assert!(out.contains("stop pending"), "{out}");
    hook.wait_for("two budget events", Duration::from_secs(30), |b| {
        b.len() >= 2
    });
    let delivered = hook.delivered();
    let rules: Vec<&str> = delivered
        .iter()
        .map(|b| {
            b["alert"]["rule"]
                .as_str()
                .or(b["rule"].as_str())
                .unwrap_or("")
        })
        .collect();
    assert!(rules.iter().all(|r| *r == "budget"), "{delivered:#?}");
    let text = serde_json::to_string(&delivered).unwrap();
    assert!(text.contains("deallocating ours at"), "{text}");
    assert!(
        text.contains("(in 1 h) unless the budget is raised"),
        "{text}"
    );
    assert!(!text.contains("theirs"), "{text}");
    // Notice given, grace running: nothing stopped yet.
    let shown: Value =
        serde_json::from_str(&env.ok(&["cost", "budget", "show", "--json"])).unwrap();
    assert!(shown["stop_due"].is_string(), "{shown}");
    assert_eq!(shown["stop_grace_secs"], 3600);
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(power("ours"), "running");
    // A shorter grace is taken by the stop already noticed.
    set("1s");
    env.wait("ours to be deallocated", Duration::from_secs(30), || {
        power("ours") == "deallocated"
    });
    assert_eq!(power("theirs"), "running");
    hook.wait_for("the stop's own event", Duration::from_secs(30), |b| {
        b.len() >= 3
    });
    let text = serde_json::to_string(&hook.delivered()).unwrap();
    assert!(text.contains("the budget stop deallocated ours"), "{text}");
    let shown: Value =
        serde_json::from_str(&env.ok(&["cost", "budget", "show", "--json"])).unwrap();
    assert!(shown["stop_due"].is_null(), "{shown}");

    // The daemon again: it checks the budgets first thing, and a crossing
    // already sent is not sent again.
    env.ok(&["daemon", "stop"]);
    let shown: Value =
        serde_json::from_str(&env.ok(&["cost", "budget", "show", "--json"])).unwrap();
    assert_eq!(
        shown["crossed"],
        serde_json::json!(["80:alert", "100:stop"])
    );
    assert!(shown["exceeds_on"].is_string());
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(hook.delivered().len(), 3, "{:#?}", hook.delivered());
    let alerts = env.ok(&["alerts", "--json"]);
    assert!(alerts.contains("budget"), "{alerts}");

    // A stop noticed, then the budget raised above the spend: called off,
    // and said so.
    let out = env.ok(&[
        "cost",
        "budget",
        "set",
        &amount,
        "--threshold",
        "105:stop",
        "--stop-grace",
        "1h",
    ]);
    assert!(out.contains("stop pending"), "{out}");
    let out = env.ok(&["cost", "budget", "set", &format!("{}", spent * 2.0)]);
    assert!(out.contains("called off"), "{out}");
    assert!(!out.contains("stop pending"), "{out}");
    hook.wait_for(
        "the notice and the call-off",
        Duration::from_secs(30),
        |b| b.len() >= 5,
    );

    // Written to Azure too: a monthly budget from the first of the month,
    // with an end, e-mailing at each threshold; the stop is the daemon's.
    let out = env.ok(&[
        "cost",
        "budget",
        "set",
        "500",
        "--threshold",
        "80:alert",
        "--threshold",
        "100:stop",
        "--azure",
        "--email",
        "dev@example.com",
    ]);
    assert!(out.contains("through this machine's daemon alone"), "{out}");
    let budget_path = format!("{rg}/providers/Microsoft.Consumption/budgets/azlin");
    let written = fake
        .emulator(|e| e.resource(&budget_path))
        .expect("the budget in Azure");
    assert_eq!(written["properties"]["amount"], 500.0);
    assert_eq!(
        written["properties"]["timePeriod"]["startDate"],
        format!("{}T00:00:00Z", today.first_of_month())
    );
    assert!(env.ok(&["cost", "budget", "show"]).contains("in Azure too"));
    assert!(
        env.ok(&["cost", "budget", "clear"])
            .contains("in Azure too")
    );
    assert!(fake.emulator(|e| e.resource(&budget_path)).is_none());
    assert!(
        env.ok(&["cost", "budget", "show"])
            .contains("no budget here")
    );
    assert!(
        env.fails(&["cost", "budget", "clear"])
            .contains("nothing cleared")
    );

    // Four weeks of history kept: Azure's forecast of the days left says
    // when the month exceeds (100 a day), not a straight line (10 a day).
    fake.emulator(|e| {
        for back in days..days + 40 {
            let day: u32 = today.plus(-back).number();
            e.cost.rows.push((
                day,
                format!("{rg}/providers/Microsoft.Compute/virtualMachines/ours"),
                10.0,
                "USD".into(),
            ));
        }
        let mut day = today.plus(1);
        while day <= today.last_of_month() {
            let n: u32 = day.number();
            e.cost.forecast.push((n, 100.0, "USD".into()));
            day = day.plus(1);
        }
    });
    env.ok(&["cost", "history", "--days", "60"]);
    let amount = spent + 250.0;
    env.ok(&["cost", "budget", "set", &format!("{amount}")]);
    let shown: Value =
        serde_json::from_str(&env.ok(&["cost", "budget", "show", "--json"])).unwrap();
    let expected = {
        let mut at = None;
        let (mut total, mut day) = (spent, today.plus(1));
        while day <= today.last_of_month() {
            total += 100.0;
            if total >= amount {
                at = Some(day.to_string());
                break;
            }
            day = day.plus(1);
        }
        at
    };
    if today < today.last_of_month() {
        assert_eq!(
            shown["forecast_source"], "Cost Management forecast",
            "{shown}"
        );
        assert_eq!(
            shown["exceeds_on"].as_str().map(String::from),
            expected,
            "{shown}"
        );
        // Set and show both checked: Azure was asked once.
        assert_eq!(fake.emulator(|e| e.cost.forecasts), 1);
    }
}
