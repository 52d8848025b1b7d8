//! The credential proxy. Sessions hold placeholders; this proxy authenticates
//! each session by its own secret, intercepts TLS with a CA clauderon owns, and
//! puts the real credential on a request only for the host it belongs to.

pub mod audit;
pub mod ca;
mod conn_upstream;
pub mod credentials;
mod error;
/// The fuzz targets' entry (`fuzz/`): not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod inject;
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
pub mod server;
pub mod tap;
pub mod upstream;
pub mod wall;

pub use error::ProxyError;
