//! Test fixtures shared by every crate's tests. Never shipped.

pub mod agent_clis;
pub mod attacks;
pub mod browser;
pub mod daemon;
pub mod exec_ws;
pub mod fake_backend;
pub mod files;
pub mod git;
pub mod home_links;
pub mod http;
pub mod kube_api;
pub mod netns;
pub mod push;
pub mod session;
pub mod sprites_api;
pub mod stand_ins;
pub mod terminal_rtt;
pub mod upstream;

pub use daemon::TestDaemon;
pub use fake_backend::FakeBackend;
pub use git::TestRepo;
pub use upstream::git_backend::BareRepo;
pub use upstream::{ModelReply, TestCa, TlsUpstream, UpstreamOptions};
