//! Azure Resource Manager: typed models of the resources azlin uses
//! ([`models`]), the API versions it speaks ([`api`]), Azure's error bodies
//! as clear errors ([`error`]), long-running operations ([`lro`]) and
//! retries ([`retry`]) as pure logic.
//!
//! Not here yet: the HTTP client, credentials and the provider itself.

pub mod api;
pub mod error;
pub mod lro;
pub mod models;
pub mod retry;
