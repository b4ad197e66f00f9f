//! `azlin context use`: whether the subscription of the context being
//! switched to answers with the credentials of its tenant, asked once of
//! ARM before the switch is written.

use serde::{Deserialize, Serialize};

use super::Call;

/// Ask ARM for the subscription the request's context names (the
/// request's [`crate::azure::context::Target`] carries it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContextCheck {}

impl Call for ContextCheck {
    type Reply = SubscriptionSeen;
}

/// The subscription, as ARM described it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubscriptionSeen {
    pub id: String,
    pub display_name: Option<String>,
    pub state: Option<String>,
    pub tenant_id: Option<String>,
}
