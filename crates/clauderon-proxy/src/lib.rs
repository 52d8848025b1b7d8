//! The credential proxy. Sessions hold placeholders; this proxy authenticates
//! each session by its own secret, intercepts TLS with a CA clauderon owns, and
//! puts the real credential on a request only for the host it belongs to.

pub mod audit;
mod body_tap;
mod builder;
pub mod ca;
pub mod credentials;
mod dialer;
mod error;
/// The fuzz targets' entry (`fuzz/`): not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
mod inject;
mod lenient_eof;
mod local;
pub mod meter;
pub mod oauth;
mod peek;
pub mod policy;
mod reply;
mod resolver;
pub mod rules;
pub mod scrub;
mod secret;
mod server;
pub mod status_host;
mod upstream;
mod wall;

pub use builder::{BoundProxy, ProxyBuilder, ProxyFiles, ProxySettings, ProxySinks, RunningProxy};
pub use error::ProxyError;
pub use upstream::{OverrideResolver, root_store};
