//! The ARM client against the fake ARM server replaying real recorded
//! Azure traffic: long-running operations followed as Azure ran them
//! (network PUT, VM action, delete), pacing never faster than
//! `Retry-After` or 1 s, retries of 429/5xx/timeouts, a stuck operation
//! given up on, paging, and Azure's errors as clear ones.

use std::time::Duration;

use azlin_controller::azure::{
    client::ArmClient,
    credentials::Credentials,
    error::ErrorKind,
    models::{SubResource, network::PublicIpAddress},
};
use azlin_e2e::arm::{
    cassette::{self, Interaction},
    fake::{FakeArm, Fault},
    fixtures_dir,
};

fn recording(name: &str) -> Vec<Interaction> {
    cassette::load(&fixtures_dir().join("recordings").join(name))
}

fn client(fake: &FakeArm) -> ArmClient {
    ArmClient::new(&fake.base(), Credentials::Static("test-token".into())).unwrap()
}

/// The recorded request's path (with any query but the api-version) and
/// api-version.
fn target(x: &Interaction) -> (String, String) {
    let query = x.uri.split_once('?').map_or("", |(_, q)| q);
    let (api, rest): (Vec<&str>, Vec<&str>) = query
        .split('&')
        .partition(|p| p.starts_with("api-version="));
    let mut path = x.path().to_string();
    if !rest.is_empty() {
        path = format!("{path}?{}", rest.join("&"));
    }
    (path, api[0]["api-version=".len()..].to_string())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_recorded_network_put_is_followed_to_the_resource() {
    let rec = recording("azure-cli/network/test_network_public_ip.yaml");
    let put = rec.iter().find(|x| x.method == "PUT").unwrap().clone();
    let (path, api) = target(&put);
    let fake = FakeArm::start(rec);
    let arm = client(&fake);
    let ip: PublicIpAddress = runtime()
        .block_on(arm.put(&path, &api, &PublicIpAddress::default()))
        .unwrap();
    assert_eq!(
        ip.properties.provisioning_state.as_deref(),
        Some("Succeeded")
    );
    assert!(ip.name.is_some());
    let seen = fake.seen();
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods[0], "PUT");
    assert!(
        seen.iter().any(|s| s.path.contains("/operations/")),
        "{seen:?}"
    );
    assert!(
        seen.last().unwrap().path.eq_ignore_ascii_case(&path),
        "ends on the resource"
    );
    // No Retry-After in these recordings: polls 1 s apart, never faster.
    for pair in seen.windows(2) {
        if pair[1].path.contains("/operations/") {
            assert!(
                pair[1].at - pair[0].at >= Duration::from_millis(990),
                "{seen:?}"
            );
        }
    }
    assert_eq!(
        arm.counts.writes.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[test]
fn a_recorded_delete_and_vm_action_finish_as_azure_ran_them() {
    let rec = recording("azure-cli/network/test_network_public_ip.yaml");
    let delete = rec.iter().find(|x| x.method == "DELETE").unwrap().clone();
    let (path, api) = target(&delete);
    let fake = FakeArm::start(rec);
    runtime()
        .block_on(client(&fake).delete(&path, &api))
        .unwrap();
    let polls = fake
        .seen()
        .iter()
        .filter(|s| s.path.contains("/operations/"))
        .count();
    assert!(polls >= 3, "polled until Succeeded: {:?}", fake.seen());

    let rec = recording("azure-cli/vm/test_vm_create_state_modifications.yaml");
    let power_off = rec
        .iter()
        .find(|x| x.method == "POST" && x.path().ends_with("/powerOff"))
        .unwrap()
        .clone();
    assert_eq!(power_off.status, 202);
    let (path, api) = target(&power_off);
    let fake = FakeArm::start(rec);
    runtime()
        .block_on(client(&fake).action(&path, &api))
        .unwrap();
    let seen = fake.seen();
    assert_eq!(seen[0].method, "POST");
    assert!(seen.len() >= 2, "{seen:?}");
}

#[test]
fn throttling_and_server_errors_are_retried_after_retry_after() {
    let fake = FakeArm::start(Vec::new());
    let rg = "/subscriptions/s/resourceGroups/rg";
    fake.can(
        "GET",
        &format!("{rg}?api-version=1"),
        vec![(200, vec![], r#"{"location":"westus","name":"rg"}"#)],
    );
    fake.inject(
        "/resourcegroups/rg",
        vec![
            Fault::Status {
                status: 500,
                retry_after: None,
            },
            Fault::Status {
                status: 429,
                retry_after: Some(2),
            },
        ],
    );
    let arm = client(&fake);
    let got: azlin_controller::azure::models::resources::ResourceGroup =
        runtime().block_on(arm.get(rg, "1")).unwrap();
    assert_eq!(got.location, "westus");
    let seen = fake.seen();
    assert_eq!(
        seen.iter().map(|s| s.status).collect::<Vec<_>>(),
        [500, 429, 200]
    );
    assert!(
        seen[2].at - seen[1].at >= Duration::from_secs(2),
        "Retry-After honoured"
    );
    assert_eq!(
        arm.counts
            .retries
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );

    // A request that hangs past the client's timeout is tried again.
    let fake = FakeArm::start(Vec::new());
    fake.can(
        "GET",
        &format!("{rg}?api-version=1"),
        vec![(200, vec![], r#"{"location":"eastus"}"#)],
    );
    fake.inject(
        "/resourcegroups/rg",
        vec![Fault::Delay(Duration::from_secs(3))],
    );
    let arm = client(&fake)
        .with_request_timeout(Duration::from_millis(800))
        .unwrap();
    let got: azlin_controller::azure::models::resources::ResourceGroup =
        runtime().block_on(arm.get(rg, "1")).unwrap();
    assert_eq!(got.location, "eastus");
    assert_eq!(
        arm.counts
            .retries
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[test]
fn a_stuck_operation_is_given_up_with_a_clear_error() {
    let fake = FakeArm::start(Vec::new());
    let base = fake.base();
    let nsg =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n";
    let ao = format!(
        "{base}/subscriptions/s/providers/Microsoft.Network/locations/w/operations/stuck?api-version=1"
    );
    fake.can(
        "PUT",
        &format!("{nsg}?api-version=1"),
        vec![(201, vec![("azure-asyncoperation", &ao)], "{}")],
    );
    fake.inject("/operations/stuck", vec![Fault::Stuck]);
    let arm = client(&fake).with_lro_timeout(Duration::from_secs(3));
    let err = runtime()
        .block_on(arm.put::<_, serde_json::Value>(nsg, "1", &serde_json::json!({})))
        .unwrap_err();
    assert_eq!(err.code, "OperationTimedOut");
    assert!(err.to_string().contains("still running"), "{err}");
    let polls: Vec<_> = fake
        .seen()
        .into_iter()
        .filter(|s| s.path.contains("stuck"))
        .collect();
    assert!(!polls.is_empty() && polls.len() <= 3, "{polls:?}");
}

#[test]
fn lists_follow_next_link_and_errors_say_what_to_do() {
    let fake = FakeArm::start(Vec::new());
    let base = fake.base();
    let list = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses";
    let page1 = format!(
        r#"{{"value":[{{"name":"a","properties":{{}}}}],"nextLink":"{base}/next/page2?api-version=1"}}"#
    );
    fake.can(
        "GET",
        &format!("{list}?api-version=1"),
        vec![(200, vec![], &page1)],
    );
    fake.can(
        "GET",
        "/next/page2?api-version=1",
        vec![(200, vec![], r#"{"value":[{"name":"b"}]}"#)],
    );
    let arm = client(&fake);
    let rt = runtime();
    let ips: Vec<PublicIpAddress> = rt.block_on(arm.list(list, "1")).unwrap();
    let names: Vec<_> = ips.iter().map(|i| i.name.clone().unwrap()).collect();
    assert_eq!(names, ["a", "b"]);

    let vm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v";
    fake.can(
        "PUT",
        &format!("{vm}?api-version=1"),
        vec![(409, vec![], r#"{"error":{"code":"SkuNotAvailable","message":"The requested size for resource is currently not available in location 'westus'."}}"#)],
    );
    let err = rt
        .block_on(arm.put::<_, serde_json::Value>(vm, "1", &SubResource::new("x")))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::SkuNotAvailable);
    assert!(
        err.to_string().contains("pick another size or region"),
        "{err}"
    );
    let puts = fake.seen().iter().filter(|s| s.method == "PUT").count();
    assert_eq!(puts, 1, "a 409 is not retried");

    let missing: Option<PublicIpAddress> = rt.block_on(arm.get_opt("/nothing/here", "1")).unwrap();
    assert!(missing.is_none());
    fake.can(
        "GET",
        "/expired?api-version=1",
        vec![(401, vec![], r#"{"error":{"code":"ExpiredAuthenticationToken","message":"The access token expiry UTC time is earlier than current UTC time."}}"#)],
    );
    let err = rt
        .block_on(arm.get::<serde_json::Value>("/expired", "1"))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Authentication);
    assert!(err.to_string().contains("az login"), "{err}");
}
