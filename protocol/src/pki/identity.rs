//! Who a certificate speaks for. The controller puts the identity into every
//! certificate it signs (ignoring whatever names a CSR asks for):
//! `controller.fleet.azlin` for the controller, `<vm>.agents.fleet.azlin` for
//! an agent. Both ends check the other's role after the handshake, so an agent
//! certificate can never be used to drive another agent.

use x509_parser::prelude::*;

use super::PkiError;

/// DNS name in the controller's certificate.
pub const CONTROLLER_DNS: &str = "controller.fleet.azlin";
const AGENT_SUFFIX: &str = ".agents.fleet.azlin";

/// DNS name in the certificate of the agent on VM `vm`.
pub fn agent_dns(vm: &str) -> String {
    format!("{vm}{AGENT_SUFFIX}")
}

/// VM names are DNS labels: 1-63 of `a-z`, `0-9`, `-`, starting with a
/// letter or digit and not ending with `-`.
pub fn check_vm_name(name: &str) -> Result<(), PkiError> {
    let bad = |why| PkiError::BadName {
        name: name.to_string(),
        why,
    };
    if name.is_empty() || name.len() > 63 {
        return Err(bad("must be 1 to 63 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(bad("use only lower-case letters, digits and '-'"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(bad("must not start or end with '-'"));
    }
    Ok(())
}

/// What a peer's certificate says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerIdentity {
    Controller { serial: String },
    Agent { vm: String, serial: String },
}

impl PeerIdentity {
    pub fn serial(&self) -> &str {
        match self {
            PeerIdentity::Controller { serial } | PeerIdentity::Agent { serial, .. } => serial,
        }
    }
}

/// Read the identity out of a DER certificate already verified by rustls.
pub fn peer_identity(cert_der: &[u8]) -> Result<PeerIdentity, PkiError> {
    let (_, cert) =
        X509Certificate::from_der(cert_der).map_err(|e| PkiError::BadCertificate(e.to_string()))?;
    let serial = crate::enroll::hex(cert.raw_serial());
    let san = cert
        .subject_alternative_name()
        .map_err(|e| PkiError::BadCertificate(e.to_string()))?
        .ok_or_else(|| PkiError::BadCertificate("no subject alternative name".into()))?;
    for name in &san.value.general_names {
        if let GeneralName::DNSName(dns) = name {
            if *dns == CONTROLLER_DNS {
                return Ok(PeerIdentity::Controller { serial });
            }
            if let Some(vm) = dns.strip_suffix(AGENT_SUFFIX)
                && check_vm_name(vm).is_ok()
            {
                return Ok(PeerIdentity::Agent {
                    vm: vm.to_string(),
                    serial,
                });
            }
        }
    }
    Err(PkiError::BadCertificate(
        "certificate names neither the controller nor an agent".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_names_follow_dns_label_rules() {
        for ok in ["a", "vm-1", "0abc", &"x".repeat(63)] {
            check_vm_name(ok).unwrap();
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "../x", &"x".repeat(64)] {
            assert!(check_vm_name(bad).is_err(), "{bad}");
        }
    }
}
