//! The orchestrator: session manager, event bus, reconcile, worktrees,
//! configuration and the data dir lock.

pub mod api_token;
pub mod bus;
pub mod config;
pub mod error;
pub mod github;
pub mod lock;
pub mod manager;
pub mod pricing;
pub mod worktree;

pub use bus::EventBus;
pub use config::Config;
pub use error::CoreError;
pub use lock::DaemonLock;
pub use manager::io::{MAX_LOG_LINES, SessionTerminal};
pub use manager::{
    ManagerParts, ProxyEndpoint, Restored, SessionAccess, SessionIo, SessionManager, SessionReads,
};
