//! `azlin certs list|rotate`: the agents' certificates (serial, when
//! issued, when they expire, when the daemon renews them), and renewing
//! them now over the live connections.

use serde::{Deserialize, Serialize};

use super::Call;
use crate::selector::Selector;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertsList {
    pub selector: Selector,
}

impl Call for CertsList {
    type Reply = Vec<CertOutcome>;
}

/// Renew the chosen VMs' certificates now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertsRotate {
    pub selector: Selector,
}

impl Call for CertsRotate {
    type Reply = Vec<CertOutcome>;
}

/// One VM's certificate, or why there is none to show (or no renewal).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertOutcome {
    pub vm: String,
    pub result: Result<CertView, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertView {
    pub serial: String,
    /// The serial it replaced (a rotation).
    pub replaced: Option<String>,
    pub issued_at: i64,
    pub not_after: i64,
    /// When the daemon renews it by itself.
    pub renew_at: i64,
}
