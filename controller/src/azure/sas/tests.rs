use super::*;

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

const KEY: &str = "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleS1rZXk=";

fn sas(start: OffsetDateTime, expiry: OffsetDateTime) -> BlobSas<'static> {
    BlobSas {
        account: "azlinabc",
        container: "azlin-agents",
        blob: Some("azlin-agent-0123"),
        permissions: Permissions::READ,
        start,
        expiry,
        https_only: true,
    }
}

#[test]
fn the_string_to_sign_has_the_sixteen_fields_of_a_service_sas_in_order() {
    let s = sas(at(1796371200), at(1796378400));
    let text = s.string_to_sign();
    let fields: Vec<&str> = text.split('\n').collect();
    assert_eq!(fields.len(), 16);
    assert_eq!(fields[0], "r");
    assert_eq!(fields[1], "2026-12-04T08:00:00Z");
    assert_eq!(fields[2], "2026-12-04T10:00:00Z");
    assert_eq!(fields[3], "/blob/azlinabc/azlin-agents/azlin-agent-0123");
    assert_eq!(fields[6], "https");
    assert_eq!(fields[7], VERSION);
    assert_eq!(fields[8], "b");
    assert!(fields[9..].iter().all(|f| f.is_empty()));
}

#[test]
fn the_query_carries_the_signed_fields_and_a_signature_that_depends_on_the_key() {
    let s = sas(at(1796371200), at(1796378400));
    let q = s.query(KEY).unwrap();
    assert!(q.starts_with(&format!("sv={VERSION}&st=2026-12-04T08%3A00%3A00Z&se=2026-12-04T10%3A00%3A00Z&sr=b&sp=r&spr=https&sig=")));
    let other = s.query("b3RoZXIta2V5").unwrap();
    assert_ne!(q, other);
    assert_eq!(q, s.query(KEY).unwrap(), "signing is deterministic");
}

#[test]
fn a_sas_longer_than_two_hours_or_ending_before_it_starts_is_refused() {
    let start = at(1796371200);
    assert!(matches!(
        sas(start, start + time::Duration::hours(3)).query(KEY),
        Err(SasError::Lifetime(_))
    ));
    assert!(matches!(
        sas(start, start - time::Duration::minutes(1)).query(KEY),
        Err(SasError::Lifetime(_))
    ));
}

#[test]
fn a_key_that_is_not_base64_and_names_with_odd_characters_are_refused() {
    let s = sas(at(1796371200), at(1796374800));
    assert!(matches!(s.query("not base64!"), Err(SasError::Key(_))));
    let odd = BlobSas {
        blob: Some("../x?y"),
        ..s
    };
    assert!(matches!(odd.query(KEY), Err(SasError::Name(_))));
}

#[test]
fn permissions_are_written_in_azures_order() {
    assert_eq!(Permissions::READ.as_str(), "r");
    assert_eq!(Permissions::CREATE_WRITE.as_str(), "cw");
}

#[test]
fn timestamps_are_utc_to_the_second() {
    // 2026-01-02T03:04:05Z
    let t = OffsetDateTime::from_unix_timestamp(1_767_323_045).unwrap();
    assert_eq!(timestamp(t), "2026-01-02T03:04:05Z");
}
