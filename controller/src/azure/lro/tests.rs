use super::*;

fn resp(
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    (
        status,
        headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body.as_bytes().to_vec(),
    )
}

fn with<T>(r: &(u16, Vec<(String, String)>, Vec<u8>), f: impl FnOnce(&Response) -> T) -> T {
    let lookup = |name: &str| {
        r.1.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    f(&Response {
        status: r.0,
        header: &lookup,
        body: &r.2,
    })
}

const NIC: &str = "https://arm.test/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/n?api-version=1";
const AO: &str = "https://arm.test/subscriptions/s/providers/Microsoft.Network/locations/westus/operations/1?api-version=1";

#[test]
fn network_put_polls_the_async_operation_then_gets_the_resource() {
    let first = resp(
        201,
        &[("Azure-AsyncOperation", AO)],
        r#"{"properties":{"provisioningState":"Updating"}}"#,
    );
    let (lro, step) = with(&first, |r| Lro::start(Method::Put, NIC, r));
    let mut lro = lro.unwrap();
    assert_eq!(
        step,
        Step::Poll {
            url: AO.into(),
            after: DEFAULT_POLL
        }
    );
    let step = with(&resp(200, &[], r#"{"status":"InProgress"}"#), |r| {
        lro.next(r)
    });
    assert_eq!(
        step,
        Step::Poll {
            url: AO.into(),
            after: DEFAULT_POLL
        }
    );
    let step = with(&resp(200, &[], r#"{"status":"Succeeded"}"#), |r| {
        lro.next(r)
    });
    assert_eq!(
        step,
        Step::Poll {
            url: NIC.into(),
            after: Duration::ZERO
        }
    );
    let body = r#"{"name":"n","properties":{"provisioningState":"Succeeded"}}"#;
    assert_eq!(
        with(&resp(200, &[], body), |r| lro.next(r)),
        Step::Done(body.into())
    );
}

#[test]
fn compute_action_ends_on_the_location_and_delete_needs_no_final_get() {
    let loc = "https://arm.test/operations/2?monitor=true";
    let first = resp(202, &[("azure-asyncoperation", AO), ("location", loc)], "");
    let (lro, _) = with(&first, |r| {
        Lro::start(Method::Post, "https://arm.test/vm/powerOff", r)
    });
    let mut lro = lro.unwrap();
    let step = with(
        &resp(200, &[], r#"{"status":"Succeeded","startTime":"x"}"#),
        |r| lro.next(r),
    );
    assert_eq!(
        step,
        Step::Poll {
            url: loc.into(),
            after: Duration::ZERO
        }
    );
    assert_eq!(
        with(&resp(200, &[], ""), |r| lro.next(r)),
        Step::Done(Vec::new())
    );

    let (lro, _) = with(&first, |r| {
        Lro::start(Method::Delete, "https://arm.test/vm", r)
    });
    let mut lro = lro.unwrap();
    let step = with(&resp(200, &[], r#"{"status":"Succeeded"}"#), |r| {
        lro.next(r)
    });
    assert_eq!(step, Step::Done(Vec::new()));
}

#[test]
fn location_polling_honours_retry_after_until_the_body_arrives() {
    let loc = "https://arm.test/asyncoperations/3?monitor=true";
    let first = resp(202, &[("location", loc), ("retry-after", "17")], "");
    let (lro, step) = with(&first, |r| {
        Lro::start(Method::Put, "https://arm.test/sa", r)
    });
    assert_eq!(
        step,
        Step::Poll {
            url: loc.into(),
            after: Duration::from_secs(17)
        }
    );
    let mut lro = lro.unwrap();
    let step = with(&resp(202, &[("location", loc)], ""), |r| lro.next(r));
    assert_eq!(
        step,
        Step::Poll {
            url: loc.into(),
            after: DEFAULT_POLL
        }
    );
    let body = r#"{"name":"sa"}"#;
    assert_eq!(
        with(&resp(200, &[], body), |r| lro.next(r)),
        Step::Done(body.into())
    );
}

#[test]
fn a_put_still_provisioning_is_polled_on_the_resource() {
    let first = resp(
        201,
        &[],
        r#"{"properties":{"provisioningState":"Creating"}}"#,
    );
    let (lro, step) = with(&first, |r| Lro::start(Method::Put, NIC, r));
    assert_eq!(
        step,
        Step::Poll {
            url: NIC.into(),
            after: DEFAULT_POLL
        }
    );
    let mut lro = lro.unwrap();
    let done = r#"{"properties":{"provisioningState":"Succeeded"}}"#;
    assert_eq!(
        with(&resp(200, &[], done), |r| lro.next(r)),
        Step::Done(done.into())
    );
    // A finished PUT needs no polling at all.
    let (lro, step) = with(&resp(200, &[], done), |r| Lro::start(Method::Put, NIC, r));
    assert!(lro.is_none());
    assert_eq!(step, Step::Done(done.into()));
}

#[test]
fn failures_carry_azures_reason() {
    let first = resp(201, &[("azure-asyncoperation", AO)], "");
    let start = || with(&first, |r| Lro::start(Method::Put, NIC, r)).0.unwrap();
    let mut lro = start();
    let failed = r#"{"status":"Failed","error":{"code":"QuotaExceeded","message":"cores quota"}}"#;
    match with(&resp(200, &[], failed), |r| lro.next(r)) {
        Step::Failed(e) => {
            assert_eq!(e.kind, ErrorKind::QuotaExceeded);
            assert!(e.to_string().contains("cores quota"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let mut lro = start();
    match with(&resp(200, &[], r#"{"status":"Canceled"}"#), |r| lro.next(r)) {
        Step::Failed(e) => assert_eq!(e.kind, ErrorKind::OperationFailed),
        other => panic!("{other:?}"),
    }
    let mut lro = start();
    assert!(matches!(
        with(&resp(200, &[], "not json"), |r| lro.next(r)),
        Step::Failed(_)
    ));
    let refused = resp(
        409,
        &[],
        r#"{"error":{"code":"SkuNotAvailable","message":"no"}}"#,
    );
    match with(&refused, |r| Lro::start(Method::Put, NIC, r)) {
        (None, Step::Failed(e)) => assert_eq!(e.kind, ErrorKind::SkuNotAvailable),
        other => panic!("{other:?}"),
    }
}
