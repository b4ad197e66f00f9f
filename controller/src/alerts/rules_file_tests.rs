use std::path::Path;

use super::*;
use crate::alerts::book::Channel;

fn book(text: &str) -> Result<RuleBook, RulesError> {
    parse(text, Path::new("alerts.toml"), None)
}

fn error(text: &str) -> RulesError {
    book(text).expect_err("should be refused")
}

#[test]
fn no_file_means_the_built_ins_with_their_defaults() {
    let b = book("").unwrap();
    let names: Vec<&str> = b.rules.iter().map(|r| r.rule.name.as_str()).collect();
    assert_eq!(names, vec![DISK_FULL, TMUX_SESSION_ENDED, IDLE]);
    let lost = b.agent_lost.unwrap();
    assert_eq!(lost.after_ms, 5_000);
    assert_eq!(lost.severity, Severity::Critical);
    let disk = &b.rules[0].rule;
    assert_eq!(
        (disk.op, disk.threshold, disk.clear),
        (Op::AtLeast, 90.0, 85.0)
    );
    let idle = &b.rules[2].rule;
    assert_eq!(
        (idle.op, idle.threshold, idle.for_ms),
        (Op::Below, 5.0, 7_200_000)
    );
    assert_eq!(b.rules[0].channels, vec![Channel::Log]);
}

#[test]
fn a_full_file_is_read() {
    let b = book(
        r#"
[channels.desktop]
command = "notify-send -u critical"
[channels.webhook]
url = "http://127.0.0.1:9/hook"
retries = 2
timeout = "1500ms"

[builtin.agent_lost]
after = "10s"
channels = ["webhook"]
[builtin.disk_full]
enabled = false
[builtin.process_exited]
watch = ["train.py", "serve --port 80"]
[builtin.idle]
cpu_below = 3
after = "1h30m"

[[rule]]
name = "cpu-high"
metric = "cpu"
op = ">"
threshold = 90
clear = 70
for = "30s"
severity = "critical"
vms = ["dev-*"]
tags = { env = "dev" }
channels = ["desktop"]

[[rule]]
name = "many-procs"
metric = "processes"
op = ">="
threshold = 500
"#,
    )
    .unwrap();
    assert_eq!(
        b.desktop.unwrap().argv,
        vec!["notify-send", "-u", "critical"]
    );
    let hook = b.webhook.unwrap();
    assert_eq!((hook.retries, hook.timeout_ms), (2, 1500));
    let lost = b.agent_lost.unwrap();
    assert_eq!(lost.after_ms, 10_000);
    assert_eq!(lost.channels, vec![Channel::Log, Channel::Webhook]);
    let names: Vec<&str> = b.rules.iter().map(|r| r.rule.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            TMUX_SESSION_ENDED,
            "process-exited",
            "process-exited-2",
            IDLE,
            "cpu-high",
            "many-procs"
        ]
    );
    let cpu = &b.rules[4];
    assert_eq!(
        (
            cpu.rule.threshold,
            cpu.rule.clear,
            cpu.rule.for_ms,
            cpu.rule.severity
        ),
        (90.0, 70.0, 30_000, Severity::Critical)
    );
    assert_eq!(cpu.channels, vec![Channel::Log, Channel::Desktop]);
    let tags = BTreeMap::from([("env".to_string(), "dev".to_string())]);
    assert!(cpu.applies_to("dev-1", None, &tags));
    assert!(!cpu.applies_to("dev-1", None, &BTreeMap::new()));
    assert!(!cpu.applies_to("prod-1", None, &tags));
    assert!(
        cpu.applies_to("x", Some("dev-main"), &tags),
        "session names match too"
    );
    let procs = &b.rules[5];
    assert_eq!(procs.rule.clear, 450.0, "10 % back by default");
    assert_eq!(
        procs.channels.len(),
        3,
        "every configured channel by default"
    );
    assert_eq!(b.rules[3].rule.for_ms, 5_400_000);
}

#[test]
fn mistakes_are_reported_with_line_and_column() {
    let e = error("[[rule]]\nname = \"x\"\nmetric = \"cpux\"\nop = \">\"\nthreshold = 1\n");
    assert_eq!((e.line, e.column), (3, 10), "{e}");
    assert!(
        e.to_string()
            .starts_with("alerts.toml:3:10: unknown metric \"cpux\""),
        "{e}"
    );

    let e = error("[[rule]]\nname = \"x\"\nmetric = \"cpu\"\nop = \"=>\"\nthreshold = 1\n");
    assert_eq!(e.line, 4, "{e}");

    let e = error("[[rule]]\nname = \"x\"\nmetric = \"cpu\"\nop = \">\"\nthreshold = 150\n");
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("between 0 and 100"), "{e}");

    let e =
        error("[[rule]]\nname = \"x\"\nmetric = \"cpu\"\nop = \">\"\nthreshold = 50\nclear = 60\n");
    assert_eq!(e.line, 6, "{e}");

    let e = error(
        "[[rule]]\nname = \"x\"\nmetric = \"cpu\"\nop = \">\"\nthreshold = 50\nfor = \"5 minutes\"\n",
    );
    assert_eq!(e.line, 6, "{e}");
    assert!(e.message.contains("30s"), "{e}");

    let e = error(
        "[[rule]]\nname = \"x\"\nmetric = \"cpu\"\nop = \">\"\nthreshold = 50\nchannels = [\"webhook\"]\n",
    );
    assert!(e.message.contains("[channels.webhook]"), "{e}");

    let e = error("[builtin.idle]\nthreshold = 3\n");
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("does not apply"), "{e}");

    let e = error("[[rule]]\nname = \"disk-full\"\nmetric = \"cpu\"\nop = \">\"\nthreshold = 5\n");
    assert!(e.message.contains("built-in"), "{e}");

    // Syntax errors and unknown keys come from the TOML reader, located too.
    let e = error("[[rule]\nname = 1\n");
    assert_eq!(e.line, 1, "{e}");
    let e = error("\n\n[channels]\nsms = \"x\"\n");
    assert_eq!(e.line, 4, "{e}");
    assert!(e.message.contains("sms"), "{e}");

    let e = error("[channels.webhook]\nurl = \"ftp://x.example\"\n");
    assert_eq!((e.line, e.column), (2, 7), "{e}");
}

#[test]
fn the_original_notification_command_is_the_desktop_channel() {
    let b = parse("", Path::new("a"), Some("imessR")).unwrap();
    assert_eq!(b.desktop.unwrap().argv, vec!["imessR"]);
    assert!(b.rules[0].channels.contains(&Channel::Desktop));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("0"), Some(0));
    assert_eq!(parse_duration("250ms"), Some(250));
    assert_eq!(parse_duration("1h30m"), Some(5_400_000));
    assert_eq!(parse_duration("2d"), Some(172_800_000));
    for bad in ["", "5", "m5", "5 m", "-1s", "1.5s", "99999999999999999999h"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}
