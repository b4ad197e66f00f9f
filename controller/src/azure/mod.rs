//! Azure Resource Manager: typed models of the resources azlin uses
//! ([`models`]), the API versions it speaks ([`api`]), Azure's error bodies
//! as clear errors ([`error`]), long-running operations ([`lro`]) and
//! retries ([`retry`]) as pure logic, and the HTTP client that applies
//! them ([`client`]) with a bearer token ([`credentials`]) in a
//! subscription ([`subscription`]), against the server and token the
//! request names ([`context`]). Blob storage's data plane ([`blob`]) with
//! shared access signatures ([`sas`]) delivers the agent to new VMs; the
//! Retail Prices API ([`retail_prices`]) prices their sizes; the Cost
//! Management Query API ([`cost_query`]) says what was billed.

pub mod api;
pub mod blob;
pub mod client;
pub mod context;
pub mod cost_query;
pub mod credentials;
pub mod error;
pub mod lro;
pub mod models;
pub mod retail_prices;
pub mod retry;
pub mod sas;
pub mod settings;
pub mod subscription;
