//! The agent store's shared access signatures: azlin's signer against
//! Microsoft's own `azure-storage-blob` SDK (PyPI; `tests/run-all` installs
//! it) on the same inputs, so the signer and the fake Blob endpoint cannot
//! share one mistake; and the fake endpoint refusing what Azure refuses: a
//! wrong key, an expired or tampered SAS, a write with a read-only SAS, an
//! HTTPS-only SAS over HTTP, one blob's SAS used on another, a blob SAS
//! used to list; and listing (every page) and deleting with the right SAS.

use std::{collections::BTreeMap, path::PathBuf, process::Command};

use azlin_controller::azure::{
    blob::{BlobClient, SignedBlob},
    sas::{BlobSas, Permissions, VERSION},
};
use azlin_e2e::arm::blob::FakeBlob;
use time::{Duration, OffsetDateTime};

/// The Python with `azure-storage-blob`: `AZLIN_AZURE_SDK_PYTHON`, else the
/// virtualenv `tests/run-all` makes in `target/azure-sdk`.
fn sdk_python() -> PathBuf {
    let python = std::env::var_os("AZLIN_AZURE_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/azure-sdk/bin/python")
        });
    assert!(
        python.exists(),
        "{} is missing: run tests/run-all (it installs Microsoft's azure-storage-blob SDK there) \
         or set AZLIN_AZURE_SDK_PYTHON",
        python.display()
    );
    python
}

/// The query's parameters, percent-decoded (the SDK leaves `/` as it is,
/// azlin encodes it: both mean the same).
fn params(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_string(), azlin_e2e::arm::percent_decode(v))
        })
        .collect()
}

/// The SAS Microsoft's SDK makes (its query string).
fn sdk_sas(sas: &BlobSas, key: &str) -> String {
    let script = r#"
import sys
from azure.storage.blob._shared_access_signature import BlobSharedAccessSignature
account, key, container, blob, perm, start, expiry, proto, version = sys.argv[1:]
signer = BlobSharedAccessSignature(account, account_key=key)
# The SDK signs with its own newest version; azlin pins one.
signer.x_ms_version = version
if blob:
    print(signer.generate_blob(container, blob, permission=perm, start=start, expiry=expiry, protocol=proto))
else:
    print(signer.generate_container(container, permission=perm, start=start, expiry=expiry, protocol=proto))
"#;
    let t = azlin_controller::azure::sas::timestamp;
    let out = Command::new(sdk_python())
        .args(["-c", script])
        .args([
            sas.account,
            key,
            sas.container,
            sas.blob.unwrap_or(""),
            &sas.permissions.as_str(),
            &t(sas.start),
            &t(sas.expiry),
            if sas.https_only {
                "https"
            } else {
                "https,http"
            },
            VERSION,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

#[test]
fn azlins_sas_is_the_one_microsofts_sdk_makes_from_the_same_inputs() {
    let start = now();
    let cases = [
        (
            "azlinabc",
            "azlin-agents",
            Some("azlin-agent-0a1b"),
            Permissions::READ,
            true,
        ),
        (
            "azlinf5cc271deb3addfa68d",
            "azlin-agents",
            Some("a.b_c-d"),
            Permissions::READ,
            false,
        ),
        (
            "x1",
            "c",
            Some("azlin-agent-ff"),
            Permissions::CREATE_WRITE,
            true,
        ),
        ("x1", "c", Some("azlin-agent-ff"), Permissions::DELETE, true),
        // A container's SAS, for listing it.
        ("azlinabc", "azlin-agents", None, Permissions::LIST, true),
        ("azlinabc", "azlin-agents", None, Permissions::DELETE, false),
    ];
    let key = "UGxlbnR5IG9mIGJ5dGVzIGZvciBhbiBITUFDIGtleSBoZXJlLCBzaXh0eS1mb3VyIG9mIHRoZW0u";
    for (account, container, blob, permissions, https_only) in cases {
        let sas = BlobSas {
            account,
            container,
            blob,
            permissions,
            start,
            expiry: start + Duration::minutes(115),
            https_only,
        };
        let ours = params(&sas.query(key).unwrap());
        let theirs = params(&sdk_sas(&sas, key));
        assert_eq!(ours, theirs, "{account}/{container}/{blob:?}");
    }
}

struct Store {
    fake: FakeBlob,
    key: String,
    rt: tokio::runtime::Runtime,
}

impl Store {
    fn new() -> Self {
        let fake = FakeBlob::start();
        let key = fake.add_account("acct");
        fake.add_container("acct", "box");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Self { fake, key, rt }
    }

    fn signed(&self, blob: &str, sas: String) -> SignedBlob {
        SignedBlob {
            url: format!("{}/acct/box/{blob}", self.fake.base()),
            sas,
        }
    }

    fn sas(&self, blob: &str, p: Permissions, start: OffsetDateTime, key: &str) -> String {
        BlobSas {
            account: "acct",
            container: "box",
            blob: Some(blob),
            permissions: p,
            start,
            expiry: start + Duration::hours(2),
            https_only: false,
        }
        .query(key)
        .unwrap()
    }

    /// What the last request was refused with.
    fn last_code(&self) -> Option<String> {
        self.fake.seen().last().unwrap().code.clone()
    }
}

#[test]
fn the_fake_blob_endpoint_takes_a_valid_sas_and_refuses_every_bad_one() {
    let s = Store::new();
    let client = BlobClient::new().unwrap();
    let start = now() - Duration::minutes(5);
    let bytes: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();

    // A read-only SAS cannot write.
    let read = s.sas("agent", Permissions::READ, start, &s.key);
    let err =
        s.rt.block_on(client.upload(&s.signed("agent", read.clone()), &bytes))
            .unwrap_err();
    assert_eq!(err.status, Some(403), "{err}");
    assert_eq!(
        s.last_code().as_deref(),
        Some("AuthorizationPermissionMismatch")
    );
    assert!(
        !err.to_string().contains("sig="),
        "no signature in errors: {err}"
    );
    assert!(s.fake.blobs().is_empty());

    // A write SAS uploads; the read SAS then sees it, whole.
    let write = s.sas("agent", Permissions::CREATE_WRITE, start, &s.key);
    s.rt.block_on(client.upload(&s.signed("agent", write), &bytes))
        .unwrap();
    assert_eq!(s.fake.blob("acct", "box", "agent").unwrap(), bytes);
    assert!(
        s.rt.block_on(client.exists(&s.signed("agent", read.clone())))
            .unwrap()
    );
    assert!(
        !s.rt
            .block_on(
                client.exists(&s.signed("other", s.sas("other", Permissions::READ, start, &s.key)))
            )
            .unwrap()
    );

    let refused = |sas: String, blob: &str, code: &str| {
        let err =
            s.rt.block_on(client.exists(&s.signed(blob, sas)))
                .unwrap_err();
        assert_eq!(err.status, Some(403), "{err}");
        assert_eq!(s.last_code().as_deref(), Some(code), "{err}");
    };
    // Signed with another key.
    let wrong = "V3Jvbmcga2V5IGZvciB0aGUgYWNjb3VudCwgYnV0IHN0aWxsIGJhc2U2NC4=";
    refused(
        s.sas("agent", Permissions::READ, start, wrong),
        "agent",
        "AuthenticationFailed",
    );
    // Expired an hour ago.
    let old = now() - Duration::hours(3);
    refused(
        s.sas("agent", Permissions::READ, old, &s.key),
        "agent",
        "AuthenticationFailed",
    );
    // Not yet valid.
    let later = now() + Duration::hours(1);
    refused(
        s.sas("agent", Permissions::READ, later, &s.key),
        "agent",
        "AuthenticationFailed",
    );
    // Tampered: a read SAS that claims write, or a longer life.
    refused(
        read.replace("sp=r", "sp=rw"),
        "agent",
        "AuthenticationFailed",
    );
    refused(
        read.replace("&se=", "&se=2099"),
        "agent",
        "AuthenticationFailed",
    );
    // One blob's SAS on another blob.
    refused(
        s.sas("other", Permissions::READ, start, &s.key),
        "agent",
        "AuthenticationFailed",
    );
    // HTTPS only, and this endpoint is HTTP.
    let https = BlobSas {
        account: "acct",
        container: "box",
        blob: Some("agent"),
        permissions: Permissions::READ,
        start,
        expiry: start + Duration::hours(1),
        https_only: true,
    }
    .query(&s.key)
    .unwrap();
    refused(https, "agent", "AuthorizationProtocolMismatch");
    // No SAS at all.
    refused("comp=x".into(), "agent", "AuthenticationFailed");
    assert_eq!(
        s.fake.blob("acct", "box", "agent").unwrap(),
        bytes,
        "nothing changed"
    );
}

#[test]
fn curl_downloads_through_a_read_sas_as_the_vm_does() {
    let s = Store::new();
    let client = BlobClient::new().unwrap();
    let start = now() - Duration::minutes(5);
    let bytes = b"#!/bin/sh\necho agent\n".to_vec();
    let write = s.sas("a", Permissions::CREATE_WRITE, start, &s.key);
    s.rt.block_on(client.upload(&s.signed("a", write.clone()), &bytes))
        .unwrap();
    let get = |sas: &str| {
        Command::new("curl")
            .args(["-fsS", &format!("{}/acct/box/a?{sas}", s.fake.base())])
            .output()
            .unwrap()
    };
    let read = s.sas("a", Permissions::READ, start, &s.key);
    let out = get(&read);
    assert!(out.status.success());
    assert_eq!(out.stdout, bytes);
    // A write-only SAS cannot read.
    assert!(!get(&write).status.success());
    assert_eq!(
        s.last_code().as_deref(),
        Some("AuthorizationPermissionMismatch")
    );
}

#[test]
fn listing_follows_every_page_and_delete_needs_its_own_permission() {
    let s = Store::new();
    let client = BlobClient::new().unwrap();
    let start = now() - Duration::minutes(5);
    let made = now().unix_timestamp() - 3 * 86400;
    for name in ["azlin-agent-a", "azlin-agent-b", "azlin-agent-c", "other"] {
        s.fake.plant("acct", "box", name, b"bytes", made);
    }
    let container_sas = |p: Permissions, key: &str| {
        BlobSas {
            account: "acct",
            container: "box",
            blob: None,
            permissions: p,
            start,
            expiry: start + Duration::hours(1),
            https_only: false,
        }
        .query(key)
        .unwrap()
    };
    let container = |sas: String| SignedBlob {
        url: format!("{}/acct/box", s.fake.base()),
        sas,
    };

    // Three matches over two pages (the fake pages by two), with their
    // creation time and size.
    let items =
        s.rt.block_on(client.list(
            &container(container_sas(Permissions::LIST, &s.key)),
            "azlin-agent-",
        ))
        .unwrap();
    let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["azlin-agent-a", "azlin-agent-b", "azlin-agent-c"]);
    assert!(
        items
            .iter()
            .all(|i| i.created == Some(made) && i.bytes == Some(5))
    );
    assert_eq!(
        s.fake
            .seen()
            .iter()
            .filter(|r| r.params.get("comp").map(String::as_str) == Some("list"))
            .count(),
        2
    );

    // Listing needs a container SAS with `l`: a blob SAS, a container SAS
    // without `l`, or another key are refused.
    let list_err = |sas: String| s.rt.block_on(client.list(&container(sas), "")).unwrap_err();
    let err = list_err(s.sas("azlin-agent-a", Permissions::READ, start, &s.key));
    assert_eq!(err.status, Some(403), "{err}");
    assert_eq!(
        s.last_code().as_deref(),
        Some("AuthorizationResourceTypeMismatch")
    );
    let err = list_err(container_sas(Permissions::DELETE, &s.key));
    assert_eq!(err.status, Some(403), "{err}");
    assert_eq!(
        s.last_code().as_deref(),
        Some("AuthorizationPermissionMismatch")
    );
    let wrong = "V3Jvbmcga2V5IGZvciB0aGUgYWNjb3VudCwgYnV0IHN0aWxsIGJhc2U2NC4=";
    list_err(container_sas(Permissions::LIST, wrong));
    assert_eq!(s.last_code().as_deref(), Some("AuthenticationFailed"));

    // A read SAS cannot delete; a delete SAS for the blob can, and a
    // second delete finds it gone and is done.
    let a = |p| s.signed("azlin-agent-a", s.sas("azlin-agent-a", p, start, &s.key));
    let err =
        s.rt.block_on(client.delete(&a(Permissions::READ)))
            .unwrap_err();
    assert_eq!(err.status, Some(403), "{err}");
    assert!(s.fake.blob("acct", "box", "azlin-agent-a").is_some());
    s.rt.block_on(client.delete(&a(Permissions::DELETE)))
        .unwrap();
    assert!(s.fake.blob("acct", "box", "azlin-agent-a").is_none());
    s.rt.block_on(client.delete(&a(Permissions::DELETE)))
        .unwrap();
    // A container SAS with `d` deletes any blob in it.
    let b = SignedBlob {
        url: format!("{}/acct/box/azlin-agent-b", s.fake.base()),
        sas: container_sas(Permissions::DELETE, &s.key),
    };
    s.rt.block_on(client.delete(&b)).unwrap();
    assert_eq!(s.fake.names_in("acct", "box"), ["azlin-agent-c", "other"]);
}
