//! Every provider through every provider-specific operation and flag:
//! each is either allowed (the provider does it) or refused with a message
//! naming the provider and the flag, never anything in between.

use super::*;
use crate::provider::{azure, docker, external, local};

fn table() -> Vec<(Kind, Capabilities)> {
    vec![
        (Kind::Local, local::CAPABILITIES),
        (Kind::Docker, docker::CAPABILITIES),
        (Kind::Azure, azure::CAPABILITIES),
        (Kind::External, external::CAPABILITIES),
    ]
}

fn ask(kind: Kind, op: Operation<'_>) -> Option<String> {
    let all = table();
    let caps = all.iter().find(|(k, _)| *k == kind).unwrap().1;
    refusal(kind, &caps, &op, &all)
}

const NO_MACHINE: Machine = Machine {
    size: None,
    region: None,
    image: None,
    admin_user: None,
    disk_gb: None,
};

fn new(dial: bool, no_dev_tools: bool, target: &Target) -> Operation<'_> {
    Operation::New {
        pool: 1,
        dial,
        no_dev_tools,
        nfs_storage: false,
        cloud_init_extra: false,
        target,
        machine: &NO_MACHINE,
    }
}

#[test]
fn machine_flags_are_done_where_the_machine_is_chosen_and_refused_by_name_elsewhere() {
    let one = Machine {
        size: Some("Standard_D4s_v5".into()),
        ..Machine::default()
    };
    let all = Machine {
        size: Some("Standard_D4s_v5".into()),
        region: Some("eastus".into()),
        image: Some("ubuntu-24.04".into()),
        admin_user: Some("dev".into()),
        disk_gb: Some(64),
    };
    let none = Target::default();
    for (kind, caps) in table() {
        for (machine, flags) in [
            (&one, vec!["--size applies"]),
            (
                &all,
                vec!["--size, --region, --image, --admin-user and --disk-size apply"],
            ),
        ] {
            let op = Operation::New {
                pool: 1,
                dial: false,
                no_dev_tools: false,
                nfs_storage: false,
                cloud_init_extra: false,
                target: &none,
                machine,
            };
            match ask(kind, op) {
                None => assert!(caps.machine, "{kind} took {machine:?}"),
                Some(why) => {
                    assert!(!caps.machine, "{kind}: {why}");
                    assert!(why.contains(kind.noun()), "{why}");
                    for f in &flags {
                        assert!(why.contains(f), "{why}");
                    }
                    assert!(why.contains("Azure VMs"), "says where it applies: {why}");
                }
            }
        }
    }
}

#[test]
fn every_flag_of_new_is_done_or_refused_by_name() {
    let sub = Target {
        subscription: Some("s".into()),
        resource_group: None,
        context: None,
    };
    let rg = Target {
        subscription: None,
        resource_group: Some("rg".into()),
        context: None,
    };
    let none = Target::default();
    for (kind, caps) in table() {
        for target in [&none, &sub, &rg] {
            for dial in [false, true] {
                for no_dev_tools in [false, true] {
                    let refused = ask(kind, new(dial, no_dev_tools, target));
                    let lacks = (!target.is_empty() && !caps.azure_target)
                        || (dial && !caps.dial)
                        || (no_dev_tools && !caps.dev_tools);
                    assert_eq!(
                        refused.is_some(),
                        lacks,
                        "{kind} dial={dial} no_dev_tools={no_dev_tools} {target:?}: {refused:?}"
                    );
                    if let Some(why) = refused {
                        assert!(why.contains(kind.noun()), "{why}");
                        let names_a_flag = [
                            "--subscription",
                            "--resource-group",
                            "--dial",
                            "--no-dev-tools",
                        ]
                        .iter()
                        .any(|f| why.contains(f));
                        assert!(names_a_flag, "{why}");
                    }
                }
            }
        }
    }
}

#[test]
fn every_operation_on_a_vm_is_done_or_refused_by_name() {
    for (kind, caps) in table() {
        let cases = [
            (Operation::Start, caps.power, "start"),
            (Operation::Restart, caps.power, "restart"),
            (
                Operation::Stop {
                    keep_allocated: false,
                },
                caps.power,
                "stop",
            ),
            (
                Operation::Stop {
                    keep_allocated: true,
                },
                caps.power && caps.keep_allocated,
                "stop",
            ),
            (Operation::Resize, caps.resize, "resize"),
        ];
        for (op, can, word) in cases {
            let refused = ask(kind, op);
            assert_eq!(refused.is_none(), can, "{kind} {op:?}: {refused:?}");
            if let Some(why) = refused {
                assert!(why.contains(kind.noun()), "{why}");
                assert!(
                    why.contains(word) || why.contains("--no-deallocate"),
                    "{why}"
                );
            }
        }
    }
}

#[test]
fn the_providers_today() {
    let none = Target::default();
    let sub = Target {
        subscription: Some("s".into()),
        resource_group: Some("rg".into()),
        context: None,
    };
    // local
    assert!(ask(Kind::Local, new(true, false, &none)).is_none());
    let why = ask(Kind::Local, new(false, false, &sub)).unwrap();
    assert!(why.contains("local VMs are not in Azure"), "{why}");
    assert!(
        why.contains("--subscription and --resource-group apply to Azure VMs"),
        "{why}"
    );
    let why = ask(Kind::Local, new(false, true, &none)).unwrap();
    assert!(why.contains("applies to docker VMs and Azure VMs"), "{why}");
    let why = ask(
        Kind::Local,
        Operation::Stop {
            keep_allocated: true,
        },
    )
    .unwrap();
    assert!(
        why.starts_with("local VMs have no allocation: --no-deallocate applies to Azure VMs"),
        "{why}"
    );
    // docker
    assert!(ask(Kind::Docker, new(true, true, &none)).is_none());
    let why = ask(
        Kind::Docker,
        Operation::Stop {
            keep_allocated: true,
        },
    )
    .unwrap();
    assert!(why.starts_with("docker VMs have no allocation"), "{why}");
    assert!(ask(Kind::Docker, Operation::Resize).is_some());
    assert!(ask(Kind::Docker, Operation::Restart).is_none());
    // azure
    assert!(ask(Kind::Azure, new(false, true, &sub)).is_none());
    assert!(
        ask(
            Kind::Azure,
            Operation::Stop {
                keep_allocated: true
            }
        )
        .is_none()
    );
    assert!(ask(Kind::Azure, Operation::Resize).is_none());
    let why = ask(Kind::Azure, new(true, false, &none)).unwrap();
    assert!(
        why.contains("--dial applies to local VMs and docker VMs"),
        "{why}"
    );
    // external
    let why = ask(Kind::External, new(true, false, &none)).unwrap();
    assert!(why.contains("external machines always dial in"), "{why}");
    for op in [
        Operation::Start,
        Operation::Stop {
            keep_allocated: false,
        },
        Operation::Restart,
    ] {
        let why = ask(Kind::External, op).unwrap();
        assert!(why.contains("powered by you"), "{why}");
    }
}

#[test]
fn a_home_on_shared_storage_is_for_providers_with_storage() {
    let none = Target::default();
    for (kind, caps) in table() {
        let op = Operation::New {
            pool: 1,
            dial: false,
            no_dev_tools: false,
            nfs_storage: true,
            cloud_init_extra: false,
            target: &none,
            machine: &NO_MACHINE,
        };
        match ask(kind, op) {
            None => assert!(caps.storage, "{kind} took --nfs-storage"),
            Some(why) => {
                assert!(!caps.storage, "{kind}: {why}");
                assert!(
                    why.contains(&format!(
                        "{} have no shared storage to make a home on: --nfs-storage applies \
                         to docker VMs and Azure VMs",
                        kind.noun()
                    )),
                    "{why}"
                );
            }
        }
    }
}

#[test]
fn pool_limits_are_per_provider() {
    let none = Target::default();
    let pool = |kind, pool| {
        ask(
            kind,
            Operation::New {
                pool,
                dial: false,
                no_dev_tools: false,
                nfs_storage: false,
                cloud_init_extra: false,
                target: &none,
                machine: &NO_MACHINE,
            },
        )
    };
    assert!(pool(Kind::Local, 0).unwrap().contains("between 1 and 100"));
    assert!(pool(Kind::Local, 101).is_some());
    assert!(pool(Kind::Local, 100).is_none());
    assert!(pool(Kind::External, 10_000).is_none());
    assert!(pool(Kind::External, 10_001).is_some());
}

#[test]
fn provider_names_round_trip_and_unknown_ones_are_refused() {
    for k in Kind::ALL {
        assert_eq!(Kind::parse(k.as_str()).unwrap(), k);
    }
    let e = Kind::parse("gcp").unwrap_err().to_string();
    assert!(e.contains("not available in this build"), "{e}");
}

#[test]
fn snapshots_and_clones_are_done_where_the_provider_has_them_and_refused_by_name_elsewhere() {
    for kind in [Kind::Local, Kind::Docker, Kind::Azure] {
        assert!(ask(kind, Operation::Snapshot).is_none(), "{kind}");
    }
    assert_eq!(
        ask(Kind::External, Operation::Snapshot).unwrap(),
        "azlin does not snapshot external machines: `azlin snapshot` applies to local VMs, \
         docker VMs and Azure VMs; nothing done"
    );
    for kind in [Kind::Local, Kind::Docker, Kind::Azure] {
        assert!(ask(kind, Operation::Clone).is_none(), "{kind}");
    }
    assert_eq!(
        ask(Kind::External, Operation::Clone).unwrap(),
        "azlin does not clone external machines: `azlin clone` applies to local VMs, docker VMs \
         and Azure VMs; nothing done"
    );
}

#[test]
fn a_cloud_init_extra_is_for_providers_that_boot_with_cloud_init() {
    let none = Target::default();
    let op = |extra| Operation::New {
        pool: 1,
        dial: false,
        no_dev_tools: false,
        nfs_storage: false,
        cloud_init_extra: extra,
        target: &none,
        machine: &NO_MACHINE,
    };
    assert!(ask(Kind::Docker, op(true)).is_none());
    assert!(ask(Kind::Azure, op(true)).is_none());
    let why = ask(Kind::Local, op(true)).unwrap();
    assert_eq!(
        why,
        "local VMs do not boot with cloud-init: --cloud-init-extra applies to docker VMs and \
         Azure VMs; nothing done"
    );
    assert!(ask(Kind::External, op(true)).is_some());
}
