//! This machine's public address, for the NSG's only allowed source when
//! `[azure] allowed_cidr` is unset: asked of a what-is-my-IP service
//! (`public_ip_url`, by default ipify), which answers with the caller's
//! address as plain text. An answer that is not one public IPv4 address is
//! refused, and so the VM is not made: an NSG open to the wrong source is
//! worse than none.

use std::{net::Ipv4Addr, time::Duration};

/// Ask `url` for this machine's public IPv4 address; `ADDRESS/32`.
pub async fn detect(url: &str) -> Result<String, String> {
    let fix = "or set [azure] allowed_cidr in config.toml to your public address (ADDRESS/32)";
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
    let response = client.get(url).send().await.map_err(|e| {
        format!(
            "cannot ask {url} for this machine's public address ({e}): check the network, {fix}"
        )
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "{url} answered {status} when asked for this machine's public address; {fix}"
        ));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{url} broke off its answer ({e}); {fix}"))?;
    parse(&body).map_err(|e| format!("{url}: {e}; {fix}"))
}

/// The service's answer as `ADDRESS/32`, if it is one public IPv4 address.
pub fn parse(body: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(body)
        .map(str::trim)
        .map_err(|_| "the answer is not text".to_string())?;
    let shown: String = text.chars().take(60).collect();
    let ip: Ipv4Addr = text
        .parse()
        .map_err(|_| format!("the answer {shown:?} is not an IPv4 address"))?;
    if ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        // 100.64.0.0/10: carrier-grade NAT, never a source Azure sees.
        || (ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64)
    {
        return Err(format!("{ip} is not a public address"));
    }
    Ok(format!("{ip}/32"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_public_ipv4_address_is_taken() {
        assert_eq!(parse(b"203.0.113.9\n").unwrap(), "203.0.113.9/32");
        assert_eq!(parse(b" 52.1.2.3 ").unwrap(), "52.1.2.3/32");
        for bad in [
            &b"10.1.2.3"[..],
            b"192.168.0.4",
            b"127.0.0.1",
            b"0.0.0.0",
            b"100.64.1.1",
            b"2001:db8::1",
            b"<html>rate limited</html>",
            b"1.2.3.4 5.6.7.8",
            b"\xff\xfe",
            b"",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
