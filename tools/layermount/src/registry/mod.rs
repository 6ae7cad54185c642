//! Images from registries: references, credentials and the distribution API client.

pub mod auth;
pub mod client;
pub mod mirrors;
pub mod reference;
