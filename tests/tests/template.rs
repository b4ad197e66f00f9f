//! `azlin template` and `new --template` end to end on local VMs: a
//! template's choices are used and flags given with it win; a template
//! broken by hand is reported FILE:LINE:COLUMN with nothing made; a
//! cloud-init extra is refused where VMs do not boot with cloud-init, and
//! a bad one when the template is made; names, replacing and deleting
//! (dry run, no terminal, --yes).

use std::time::Duration;

use azlin_e2e::Env;
use serde_json::Value;

#[test]
fn templates_are_made_used_overridden_and_refused_when_broken() {
    let env = Env::new();
    assert!(env.ok(&["template", "list"]).contains("no templates"));
    env.ok(&[
        "template",
        "create",
        "web",
        "--provider",
        "local",
        "--tag",
        "team=web",
        "--tag",
        "env=dev",
    ]);
    assert_eq!(env.ok(&["template", "list"]), "web\n");
    let shown: Value =
        serde_json::from_str(&env.ok(&["template", "show", "web", "--json"])).unwrap();
    assert_eq!(shown["provider"], "local");
    assert_eq!(shown["tags"]["team"], "web");

    env.ok(&[
        "new",
        "--template",
        "web",
        "--name",
        "t1",
        "--tag",
        "env=prod",
    ]);
    env.wait("connected", Duration::from_secs(60), || env.connected("t1"));
    let vm = env.vm("t1");
    assert_eq!(vm["provider"], "local");
    assert_eq!(vm["tags"]["team"], "web", "{vm}");
    assert_eq!(vm["tags"]["env"], "prod", "{vm}");

    // Refused, nothing made or changed.
    let extra = env.home().join("extra.yaml");
    std::fs::write(&extra, "#cloud-config\nruncmd:\n  - echo hi\n").unwrap();
    let script = env.home().join("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let clashing = env.home().join("clash.yaml");
    std::fs::write(&clashing, "#cloud-config\nhostname: other\n").unwrap();
    for (args, says) in [
        (vec!["template", "create", "web"], "already"),
        (
            vec!["template", "create", "Web!"],
            "cannot be a template name",
        ),
        (
            vec![
                "template",
                "create",
                "x",
                "--cloud-init-extra",
                script.to_str().unwrap(),
            ],
            "#cloud-config",
        ),
        (
            vec![
                "template",
                "create",
                "x",
                "--cloud-init-extra",
                clashing.to_str().unwrap(),
            ],
            "which azlin sets",
        ),
        (
            vec!["template", "create", "x", "--provider", "mars"],
            "not available",
        ),
        (
            vec!["new", "--template", "nope"],
            "no template named nope (there are: web)",
        ),
        (
            vec![
                "new",
                "--name",
                "t2",
                "--cloud-init-extra",
                extra.to_str().unwrap(),
            ],
            "local VMs do not boot with cloud-init",
        ),
        (vec!["template", "delete", "web"], "no terminal to ask on"),
    ] {
        let err = env.fails(&args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(env.ok(&["template", "list"]), "web\n");

    // A cloud-init extra is kept in the template, and refused for a
    // provider without cloud-init when a VM is made from it.
    env.ok(&[
        "template",
        "create",
        "boot",
        "--provider",
        "local",
        "--cloud-init-extra",
        extra.to_str().unwrap(),
    ]);
    std::fs::remove_file(&extra).unwrap();
    let shown = env.ok(&["template", "show", "boot"]);
    assert!(shown.contains("echo hi"), "{shown}");
    let err = env.fails(&["new", "--template", "boot", "--name", "t3"]);
    assert!(err.contains("do not boot with cloud-init"), "{err}");

    // Broken by hand: placed, nothing made.
    let file = env.home().join("templates/web.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("colour = \"red\"\n{text}")).unwrap();
    let err = env.fails(&["new", "--template", "web", "--name", "t4"]);
    assert!(
        err.contains(&format!("{}:1:1: unknown field `colour`", file.display())),
        "{err}"
    );
    assert_eq!(env.list().len(), 1);

    // --force replaces; delete: --dry-run keeps it, --yes removes it.
    env.ok(&[
        "template",
        "create",
        "web",
        "--provider",
        "local",
        "--force",
    ]);
    assert!(
        env.ok(&["template", "delete", "web", "--dry-run"])
            .contains("would delete")
    );
    assert!(file.exists());
    env.ok(&["template", "delete", "web", "--yes"]);
    assert!(!file.exists());
    assert_eq!(env.ok(&["template", "list"]), "boot\n");
}
