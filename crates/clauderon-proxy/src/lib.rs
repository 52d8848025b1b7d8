//! The credential proxy. Sessions hold placeholders; this proxy authenticates
//! each session by its own secret, intercepts TLS with a CA clauderon owns, and
//! puts the real credential on a request only for the host it belongs to.

pub mod audit;
mod builder;
pub mod ca;
mod conn_upstream;
pub mod credentials;
mod error;
pub mod identity;
mod inject;
pub mod internal;
mod lenient_eof;
pub mod meter;
pub mod oauth;
mod peek;
pub mod policy;
mod reply;
pub mod rules;
pub mod scrub;
mod secret;
mod server;
mod tap;
mod upstream;
mod wall;

pub use builder::{BoundProxy, ProxyBuilder, ProxyFiles, ProxySettings, ProxySinks, RunningProxy};
pub use error::ProxyError;
pub use upstream::OverrideResolver;
