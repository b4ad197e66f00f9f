//! `azlin ca rotate|show|retire`: rotating the fleet's CA over the live
//! connections (`daemon::agents::ca_rotation`), what is trusted now, and
//! retiring the CAs a rotation replaced.

use serde::{Deserialize, Serialize};

use super::{Call, Done};

/// Rotate the fleet's CA now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaRotate {}

impl Call for CaRotate {
    type Reply = CaRotated;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaRotated {
    /// The new CA's SHA-256 fingerprint (hex).
    pub fingerprint: String,
    /// VMs with a certificate of the new CA now.
    pub renewed: Vec<String>,
    /// VMs brought over when they are next connected, with why not now.
    pub pending: Vec<(String, String)>,
    /// Whether the old CA is retired already.
    pub retired: bool,
}

/// The fleet CA and what is trusted now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaShow {}

impl Call for CaShow {
    type Reply = CaStatus;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaStatus {
    pub fingerprint: String,
    /// Fingerprints of the replaced CAs still trusted.
    pub old: Vec<String>,
    /// VMs whose certificate is not of the current CA.
    pub behind: Vec<String>,
}

/// Stop trusting the CAs a rotation replaced; with VMs still on them,
/// only when `force` (they must enrol again).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaRetire {
    pub force: bool,
}

impl Call for CaRetire {
    type Reply = Done;
}
