use std::path::Path;

use super::*;

const SUB_A: &str = "00000000-0000-0000-0000-00000000000a";
const SUB_B: &str = "00000000-0000-0000-0000-00000000000b";

fn parse(text: &str) -> Result<Contexts> {
    Contexts::parse(Path::new("contexts.toml"), text)
}

fn context(sub: &str) -> Context {
    Context {
        subscription: sub.into(),
        ..Context::default()
    }
}

#[test]
fn a_written_file_reads_back_the_same() {
    let mut c = Contexts::default();
    c.create(
        "work",
        Context {
            subscription: SUB_A.into(),
            tenant: Some("contoso.onmicrosoft.com".into()),
            resource_group: Some("dev_rg(1)".into()),
            region: Some("westus2".into()),
        },
    )
    .unwrap();
    c.create("home.lab", context(SUB_B)).unwrap();
    c.current = Some("home.lab".into());
    let text = format!("# x\n{}", toml::to_string_pretty(&c).unwrap());
    assert_eq!(parse(&text).unwrap(), c);
}

#[test]
fn a_broken_file_is_reported_at_its_line_and_column() {
    let err = parse("current = \"a\"\n[contexts.a]\nsubscription = 7\n").unwrap_err();
    assert!(err.to_string().starts_with("contexts.toml:3:16:"), "{err}");
    let err = parse("[contexts.a]\nsubscription = \"x\"\n").unwrap_err();
    assert!(
        err.to_string().starts_with("contexts.toml:1:1:") && err.to_string().contains("GUID"),
        "{err}"
    );
    let err = parse(&format!(
        "[contexts.a]\nsubscription = \"{SUB_A}\"\nregion = \"West US\"\n"
    ))
    .unwrap_err();
    assert!(err.to_string().contains("region"), "{err}");
    let err = parse(&format!(
        "current = \"b\"\n[contexts.a]\nsubscription = \"{SUB_A}\"\n"
    ))
    .unwrap_err();
    assert!(
        err.to_string().starts_with("contexts.toml:1:1:")
            && err.to_string().contains("not a context"),
        "{err}"
    );
    let err = parse(&format!(
        "[contexts.a]\nsubscription = \"{SUB_A}\"\ncolour = \"red\"\n"
    ))
    .unwrap_err();
    assert!(err.to_string().contains("colour"), "{err}");
}

#[test]
fn names_and_fields_with_control_characters_or_odd_shapes_are_refused() {
    for bad in ["", "-x", "a b", "a\u{1b}[31m", "a/b", &"x".repeat(64)] {
        assert!(check_name(bad).is_err(), "{bad:?}");
    }
    for good in ["a", "work", "team.prod_2", "X-1"] {
        check_name(good).unwrap();
    }
    let mut c = Contexts::default();
    let bad = [
        Context {
            tenant: Some("t\nx".into()),
            ..context(SUB_A)
        },
        Context {
            resource_group: Some("rg.".into()),
            ..context(SUB_A)
        },
        Context {
            resource_group: Some("r\u{7}g".into()),
            ..context(SUB_A)
        },
        context("not-a-guid"),
    ];
    for b in bad {
        assert!(c.create("x", b.clone()).is_err(), "{b:?}");
    }
    assert!(c.contexts.is_empty());
}

#[test]
fn create_rename_delete_and_choose_keep_the_current_one_true() {
    let mut c = Contexts::default();
    c.create("a", context(SUB_A)).unwrap();
    c.create("b", context(SUB_B)).unwrap();
    assert!(c.create("a", context(SUB_B)).is_err());
    assert_eq!(c.choose(None).unwrap(), None);
    c.current = Some("a".into());
    assert_eq!(c.choose(None).unwrap().unwrap().context.subscription, SUB_A);
    // The flag wins over the current one, and must name a context.
    assert_eq!(c.choose(Some("b")).unwrap().unwrap().name, "b");
    let err = c.choose(Some("c")).unwrap_err();
    assert!(err.to_string().contains("there are: a, b"), "{err}");

    c.rename("a", "prod").unwrap();
    assert_eq!(c.current.as_deref(), Some("prod"));
    assert!(c.rename("prod", "b").is_err());
    assert!(c.rename("nope", "x").is_err());
    assert!(!c.delete("b").unwrap());
    assert!(c.delete("prod").unwrap());
    assert_eq!(c.current, None);
    assert!(c.delete("prod").is_err());
}
