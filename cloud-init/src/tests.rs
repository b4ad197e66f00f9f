use super::*;

const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBkDCp9fFoZy/4mfYvYNmJRrgMZ2wP5XzJzX6qzbM0Yz azlin";

fn data() -> UserData {
    UserData {
        name: "dev-1".into(),
        user: "azureuser".into(),
        ssh_public_key: KEY.into(),
        agent_url: "http://172.30.0.1:8080/azlin-agent".into(),
        agent_sha256: "ab".repeat(32),
        ca_pem: CA.into(),
        join_token: JoinToken::generate().unwrap(),
        connect: AgentConnect::Listen { port: 47800 },
        dev_tools: true,
        shared_home: None,
        extra: None,
    }
}

#[test]
fn every_placeholder_is_filled_and_it_is_a_cloud_config() {
    let out = render(&data()).unwrap();
    assert!(out.starts_with("#cloud-config\n"));
    assert!(!out.contains("{{"), "{out}");
    assert!(!out.contains("#if") && !out.contains("#end"));
    assert!(out.contains(r#"hostname: "dev-1""#));
    assert!(out.contains(&format!(
        "- [/usr/local/lib/azlin/install-agent, \"http://172.30.0.1:8080/azlin-agent\", \"{}\"]",
        "ab".repeat(32)
    )));
}

#[test]
fn the_token_is_written_once_to_a_private_file() {
    let d = data();
    let out = render(&d).unwrap();
    let token = d.join_token.to_string();
    assert_eq!(out.matches(&token).count(), 1);
    let at = out.find(&token).unwrap();
    let before = &out[..at];
    let file = before.rfind("- path: ").unwrap();
    assert!(before[file..].starts_with("- path: /etc/azlin/join-token"));
    assert!(before[file..].contains("permissions: \"0600\""));
}

#[test]
fn dev_tools_are_skippable() {
    let with = render(&data()).unwrap();
    assert!(with.contains("install-dev-tools, \"azureuser\"]"));
    let without = render(&UserData {
        dev_tools: false,
        ..data()
    })
    .unwrap();
    assert!(!without.contains("install-dev-tools"));
    assert!(without.contains("install-agent"));
}

#[test]
fn a_shared_home_fixes_the_uid_and_reaches_the_agent_config() {
    let without = render(&data()).unwrap();
    assert!(!without.contains("uid:"), "{without}");
    assert!(!without.contains("shared_home"), "{without}");
    let d = UserData {
        shared_home: Some("team.file.core.windows.net:/team/home".into()),
        ..data()
    };
    let with = render(&d).unwrap();
    let users = &with[with.find("users:").unwrap()..with.find("write_files:").unwrap()];
    assert!(users.contains("    uid: 1000\n"), "{users}");
    let toml: toml::Value = toml::from_str(&agent_toml(&d)).unwrap();
    assert_eq!(
        toml["shared_home"].as_str(),
        Some("team.file.core.windows.net:/team/home")
    );
    for bad in ["nohost", "h:/x\nuid: 0", "h:/a b", "h:/../etc"] {
        let d = UserData {
            shared_home: Some(bad.into()),
            ..data()
        };
        assert_eq!(
            render(&d),
            Err(RenderError::SharedHome(bad.into())),
            "{bad:?}"
        );
    }
}

#[test]
fn the_agent_starts_before_the_tools() {
    let out = render(&data()).unwrap();
    let runcmd = &out[out.find("runcmd:").unwrap()..];
    assert!(runcmd.find("install-agent").unwrap() < runcmd.find("install-dev-tools").unwrap());
}

#[test]
fn it_fits_azure_custom_data_with_room_to_spare() {
    let out = render(&data()).unwrap();
    assert!(out.len() < MAX_CUSTOM_DATA / 2, "{} bytes", out.len());
}

#[test]
fn agent_config_says_how_to_connect() {
    let listen = agent_toml(&data());
    assert!(listen.contains("mode = \"listen\""), "{listen}");
    assert!(listen.contains("listen = \"0.0.0.0:47800\""));
    assert!(listen.contains("user = \"azureuser\""));
    let dial = agent_toml(&UserData {
        connect: AgentConnect::Dial {
            controller: "203.0.113.5:47801".into(),
        },
        ..data()
    });
    assert!(dial.contains("mode = \"dial\""), "{dial}");
    assert!(dial.contains("controller = \"203.0.113.5:47801\""));
}

#[test]
fn hostile_values_are_refused() {
    type Expect = fn(&RenderError) -> bool;
    let cases: Vec<(UserData, Expect)> = vec![
        (
            UserData {
                user: "root".into(),
                ..data()
            },
            |e| matches!(e, RenderError::User(_)),
        ),
        (
            UserData {
                user: "a\nruncmd: [x]".into(),
                ..data()
            },
            |e| matches!(e, RenderError::User(_)),
        ),
        (
            UserData {
                user: "Admin".into(),
                ..data()
            },
            |e| matches!(e, RenderError::User(_)),
        ),
        (
            UserData {
                name: "Dev_1".into(),
                ..data()
            },
            |e| matches!(e, RenderError::Name(_)),
        ),
        (
            UserData {
                ssh_public_key: format!("{KEY}\nssh-rsa AAAA"),
                ..data()
            },
            |e| matches!(e, RenderError::SshKey(_)),
        ),
        (
            UserData {
                ssh_public_key: "not a key".into(),
                ..data()
            },
            |e| matches!(e, RenderError::SshKey(_)),
        ),
        (
            UserData {
                ssh_public_key: "ssh-ed25519 AAA\"]".into(),
                ..data()
            },
            |e| matches!(e, RenderError::SshKey(_)),
        ),
        (
            UserData {
                agent_url: "ftp://x/agent".into(),
                ..data()
            },
            |e| matches!(e, RenderError::Url(_)),
        ),
        (
            UserData {
                agent_url: "http://x/a\" ; rm -rf /".into(),
                ..data()
            },
            |e| matches!(e, RenderError::Url(_)),
        ),
        (
            UserData {
                agent_sha256: "zz".repeat(32),
                ..data()
            },
            |e| matches!(e, RenderError::Sha256(_)),
        ),
        (
            UserData {
                agent_sha256: "ab".into(),
                ..data()
            },
            |e| matches!(e, RenderError::Sha256(_)),
        ),
        (
            UserData {
                ca_pem: "hello".into(),
                ..data()
            },
            |e| matches!(e, RenderError::CaPem),
        ),
        (
            UserData {
                connect: AgentConnect::Dial {
                    controller: "nohost".into(),
                },
                ..data()
            },
            |e| matches!(e, RenderError::Controller(_)),
        ),
    ];
    for (d, expected) in cases {
        let err = render(&d).unwrap_err();
        assert!(expected(&err), "{err}");
    }
}

#[test]
fn odd_but_legal_text_stays_inside_its_string() {
    // A CA file whose middle holds YAML and shell metacharacters cannot
    // leave its scalar: the document still has one `runcmd`, one token file.
    let ca =
        "-----BEGIN CERTIFICATE-----\n\"]\nruncmd: [\"$(id)\"]\n'`\n-----END CERTIFICATE-----\n";
    let out = render(&UserData {
        ca_pem: ca.into(),
        ..data()
    })
    .unwrap();
    assert_eq!(out.matches("\nruncmd:").count(), 1);
    assert_eq!(out.matches("- path: /etc/azlin/join-token").count(), 1);
    assert!(
        out.contains(r#"content: "-----BEGIN CERTIFICATE-----\n\"]\nruncmd: [\"$(id)\"]\n'`\n"#)
    );
}

#[test]
fn the_adopt_script_writes_what_cloud_init_would_and_installs_the_agent() {
    use base64::Engine as _;
    let d = data();
    let lines = adopt_script(&d).unwrap();
    assert!(
        lines.iter().all(|l| !l.contains('\n')),
        "one command a line"
    );
    assert_eq!(lines[0], "set -eu");
    let written = |path: &str| -> String {
        let line = lines
            .iter()
            .find(|l| l.contains(&format!("> {path}.azlin-new")))
            .unwrap_or_else(|| panic!("no {path}"));
        let b64 = line.split('\'').nth(3).unwrap();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(written("/etc/azlin/agent.toml"), agent_toml(&d));
    assert_eq!(written("/etc/azlin/ca.crt"), d.ca_pem);
    assert_eq!(
        written("/etc/azlin/join-token"),
        format!("{}\n", d.join_token)
    );
    assert_eq!(
        written("/etc/systemd/system/azlin-agent.service"),
        AGENT_UNIT
    );
    assert_eq!(written("/usr/local/lib/azlin/install-agent"), INSTALL_AGENT);
    assert_eq!(
        lines[lines.len() - 2],
        format!(
            "/usr/local/lib/azlin/install-agent '{}' '{}'",
            d.agent_url, d.agent_sha256
        )
    );
    assert_eq!(lines.last().unwrap(), &format!("echo '{ADOPTED}'"));
    // What render refuses, this refuses too: nothing reaches a shell.
    let bad = UserData {
        agent_url: "http://x/a' ; rm -rf / '".into(),
        ..data()
    };
    assert!(adopt_script(&bad).is_err());
}

#[test]
fn the_clone_script_clears_the_copied_identity_before_it_installs_the_agent() {
    use base64::Engine as _;
    let d = data();
    let secrets = vec![
        "/home/azureuser/.ssh/id_ed25519".to_string(),
        "/home/azureuser/it's \"odd\"; rm -rf /".to_string(),
    ];
    let lines = clone_script(&d, &secrets).unwrap();
    assert!(
        lines.iter().all(|l| !l.contains('\n')),
        "one command a line"
    );
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {lines:#?}"))
    };
    // The copied agent is stopped before its identity goes, and the
    // identity goes before the clone's own is written.
    assert!(at("systemctl stop azlin-agent") < at("rm -rf /var/lib/azlin-agent"));
    assert!(at("rm -rf /var/lib/azlin-agent") < at("> /etc/azlin/join-token.azlin-new"));
    assert!(at("rm -f /etc/ssh/ssh_host_*") < at("ssh-keygen -A"));
    assert!(at("rm -f /etc/machine-id") < at("systemd-machine-id-setup"));
    assert!(
        lines
            .iter()
            .any(|l| l == "printf '%s\\n' 'dev-1' > /etc/hostname")
    );
    // The secrets travel NUL-separated in base64: no shell reads them.
    let line = &lines[at("xargs -0 -r rm -rf --")];
    let b64 = line.split('\'').nth(3).unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(
        decoded,
        format!("{}\0{}\0", secrets[0], secrets[1]).into_bytes()
    );
    // The rest is the adopt script's install.
    let adopt = adopt_script(&d).unwrap();
    assert!(lines.ends_with(&adopt[2..]));
    assert_eq!(lines.last().unwrap(), &format!("echo '{ADOPTED}'"));
    // A path that is not absolute or climbs out is refused.
    for bad in ["relative/key", "/home/u/../../etc/shadow", "/x\0y"] {
        assert!(
            matches!(
                clone_script(&d, &[bad.to_string()]),
                Err(RenderError::Secret(_))
            ),
            "{bad:?}"
        );
    }
    assert!(clone_script(&d, &[]).is_ok());
}

#[test]
fn every_key_azlin_sets_is_either_its_own_or_extended_by_the_users_part() {
    let out = render(&data()).unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(&out).unwrap();
    for key in doc.as_object().unwrap().keys() {
        assert!(
            crate::extra::OWN.contains(&key.as_str())
                || crate::extra::APPENDED.contains(&key.as_str()),
            "{key} is neither azlin's own nor extended: the user's part could replace it"
        );
    }
}
