//! clauderon's domain types. Everything here is plain data and pure functions:
//! no IO, no clocks except where a caller passes one in.

pub mod agent_status;
pub mod api;
pub mod audit;
pub mod diff;
pub mod event;
pub mod git_layout;
pub mod hooks;
mod id;
pub mod kinds;
pub mod layout;
pub mod lifecycle;
pub mod messages;
pub mod name;
pub mod options;
pub mod session;
pub mod ship;
mod status;
pub mod terminal;
mod token;
pub mod usage;

pub use agent_status::AgentStatus;
pub use event::{EventKind, SessionEvent};
pub use git_layout::SessionGit;
pub use kinds::{AccessMode, AgentKind, BackendKind, NetworkMode, ParseKindError, SandboxLevel};
pub use layout::DataLayout;
pub use lifecycle::{Effect, IllegalTransition, Lifecycle, SessionStatus, Transition};
pub use name::{InvalidName, SessionName};
pub use options::SessionOptions;
pub use session::{Session, SessionId};
pub use token::{ApiToken, is_loopback_host};

/// The version of clauderon, shared by the daemon and its clients.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
