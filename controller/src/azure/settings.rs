//! `[azure]` in config.toml: where and how azlin makes Azure VMs. The
//! original azlin tool's top-level keys (`default_resource_group`,
//! `default_region`, `default_vm_size`) are read as defaults, so an
//! existing config keeps working.
//!
//! ```toml
//! [azure]
//! subscription = "…"                 # else AZURE_SUBSCRIPTION_ID, else az's default
//! resource_group = "azlin-vms"
//! location = "westus2"
//! vm_size = "Standard_D2s_v5"
//! image = "Canonical:ubuntu-24_04-lts:server:latest"
//! admin_user = "azureuser"
//! allowed_cidr = "203.0.113.7/32"    # who may reach SSH and the agent's port;
//!                                    # unset: this machine's public address, asked of
//! public_ip_url = "https://api.ipify.org"  # (the default)
//! agent_url = "https://…/azlin-agent" # where new VMs download the agent
//! # agent_sha256 = "…"               # default: the sha256 of this azlin-agent
//! writes_per_second = 10             # cap on ARM writes
//! dev_tools = true
//! ```

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_cidr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev_tools: Option<bool>,
    /// `new` asks on a terminal before making VMs whose pay-as-you-go
    /// price together is over this, in USD a month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_above_per_month: Option<f64>,
}

/// The image when none is configured: Ubuntu LTS.
pub const DEFAULT_IMAGE: &str = "Canonical:ubuntu-24_04-lts:server:latest";
pub const DEFAULT_LOCATION: &str = "westus2";
pub const DEFAULT_VM_SIZE: &str = "Standard_D2s_v5";
pub const DEFAULT_RESOURCE_GROUP: &str = "azlin-vms";
/// Where this machine's public address is asked when `allowed_cidr` is
/// unset: a service that answers with the caller's address as plain text.
pub const DEFAULT_PUBLIC_IP_URL: &str = "https://api.ipify.org";

/// An image as `PUBLISHER:OFFER:SKU:VERSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUrn {
    pub publisher: String,
    pub offer: String,
    pub sku: String,
    pub version: String,
}

/// Short names for the images most people want, as `--image` takes them.
pub const IMAGE_ALIASES: &[(&str, &str)] = &[
    ("ubuntu-24.04", "Canonical:ubuntu-24_04-lts:server:latest"),
    (
        "ubuntu-22.04",
        "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest",
    ),
    ("debian-12", "Debian:debian-12:12-gen2:latest"),
    ("debian-13", "Debian:debian-13:13-gen2:latest"),
];

impl ImageUrn {
    /// An alias from [`IMAGE_ALIASES`] or a URN.
    pub fn resolve(s: &str) -> Result<Self, String> {
        if let Some((_, urn)) = IMAGE_ALIASES
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(s))
        {
            return Self::parse(urn);
        }
        if !s.contains(':') {
            let names: Vec<&str> = IMAGE_ALIASES.iter().map(|(a, _)| *a).collect();
            return Err(format!(
                "image {s:?} is neither PUBLISHER:OFFER:SKU:VERSION nor one of {}",
                names.join(", ")
            ));
        }
        Self::parse(s)
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let ok = parts.len() == 4
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            });
        if !ok {
            return Err(format!(
                "image {s:?} is not PUBLISHER:OFFER:SKU:VERSION (for example {DEFAULT_IMAGE})"
            ));
        }
        Ok(Self {
            publisher: parts[0].into(),
            offer: parts[1].into(),
            sku: parts[2].into(),
            version: parts[3].into(),
        })
    }
}

impl AzureConfig {
    /// Check what is set; defaults are filled in where the values are used.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = |s: &str, max: usize| {
            !s.is_empty()
                && s.len() <= max
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-()".contains(&b))
                && !s.ends_with('.')
        };
        if let Some(rg) = &self.resource_group
            && !name_ok(rg, 90)
        {
            return Err(format!(
                "azure.resource_group = {rg:?} is not a resource group name"
            ));
        }
        if let Some(l) = &self.location
            && (l.is_empty() || !l.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(format!(
                "azure.location = {l:?} is not a region name such as westus2"
            ));
        }
        if let Some(size) = &self.vm_size
            && (size.is_empty() || !size.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(format!(
                "azure.vm_size = {size:?} is not a VM size such as {DEFAULT_VM_SIZE}"
            ));
        }
        if let Some(image) = &self.image {
            ImageUrn::resolve(image).map_err(|e| format!("azure.image: {e}"))?;
        }
        if let Some(cidr) = &self.allowed_cidr {
            check_cidr(cidr)?;
        }
        if let Some(url) = &self.public_ip_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(format!(
                "azure.public_ip_url = {url:?} is not an http(s) URL"
            ));
        }
        if let Some(sha) = &self.agent_sha256
            && !(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err("azure.agent_sha256 must be 64 hex digits".into());
        }
        if let Some(w) = self.writes_per_second
            && !(w.is_finite() && w > 0.0)
        {
            return Err("azure.writes_per_second must be above 0".into());
        }
        if let Some(m) = self.confirm_above_per_month
            && !(m.is_finite() && m >= 0.0)
        {
            return Err("azure.confirm_above_per_month must be a price of 0 or more".into());
        }
        Ok(())
    }
}

/// The only sources an NSG rule of azlin's may admit: one address or a
/// network, never everything.
pub fn check_cidr(cidr: &str) -> Result<(), String> {
    let (ip, len) = cidr.split_once('/').unwrap_or((cidr, "32"));
    let ip: std::net::Ipv4Addr = ip
        .parse()
        .map_err(|_| format!("allowed CIDR {cidr:?} is not IPv4 ADDRESS[/LEN]"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| format!("allowed CIDR {cidr:?} has a bad prefix length"))?;
    if len > 32 {
        return Err(format!("allowed CIDR {cidr:?} has a bad prefix length"));
    }
    if len < 8 || ip.is_unspecified() {
        return Err(format!(
            "allowed CIDR {cidr:?} would open SSH and the agent's port to too much of the \
             internet; give your own address or network (/8 or narrower)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_the_world_is_never_allowed() {
        assert!(AzureConfig::default().check().is_ok());
        for bad in ["0.0.0.0/0", "10.0.0.0/4", "nonsense", "1.2.3.4/40"] {
            assert!(check_cidr(bad).is_err(), "{bad}");
        }
        assert!(check_cidr("203.0.113.7").is_ok());
        assert!(check_cidr("203.0.113.0/24").is_ok());
        let c = AzureConfig {
            image: Some("Canonical:ubuntu".into()),
            ..AzureConfig::default()
        };
        assert!(
            c.check()
                .unwrap_err()
                .contains("PUBLISHER:OFFER:SKU:VERSION")
        );
        let urn = ImageUrn::parse(DEFAULT_IMAGE).unwrap();
        assert_eq!(urn.offer, "ubuntu-24_04-lts");
        let c = AzureConfig {
            resource_group: Some("bad/name".into()),
            ..AzureConfig::default()
        };
        assert!(c.check().is_err());
    }
}
