//! Request and response bodies of the HTTP API, shared by the daemon and the client.

use crate::event::SessionEvent;
use crate::kinds::{AccessMode, AgentKind, BackendKind};
use crate::name::SessionName;
use crate::options::SessionOptions;
use crate::session::Session;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Longest initial prompt accepted, in bytes.
pub const MAX_PROMPT_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// Absolute path of a git repository (or a folder inside one).
    pub repo_path: String,
    /// The agent's first prompt.
    pub prompt: String,
    /// Generated when absent.
    #[serde(default)]
    pub name: Option<SessionName>,
    #[serde(default)]
    pub backend: Option<BackendKind>,
    #[serde(default)]
    pub agent: Option<AgentKind>,
    #[serde(default)]
    pub access_mode: Option<AccessMode>,
    /// The ref the session's branch starts from; the repository's HEAD when absent.
    #[serde(default)]
    pub base: Option<String>,
    /// The command instead of the agent, backend settings, extra allowed hosts.
    #[serde(default)]
    pub options: SessionOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ListView {
    /// Sessions that are not archived.
    #[default]
    Active,
    Archived,
    All,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    pub view: ListView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<Session>,
    /// What each listed session's model calls cost so far, in US dollars, by session name
    /// (sessions with no priced call are left out).
    #[serde(default)]
    pub costs_usd: std::collections::BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorktreeInfo {
    pub exists: bool,
    /// Bytes on disk under the worktree, `.git` file included.
    pub disk_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionDetail {
    pub session: Session,
    pub worktree: WorktreeInfo,
    /// The session's events, oldest first (the latest 100).
    pub events: Vec<SessionEvent>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Delete even if the worktree has uncommitted changes (they are lost).
    #[serde(default)]
    pub force: bool,
    /// Also delete the session's branch (kept by default).
    #[serde(default)]
    pub delete_branch: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAccessModeRequest {
    pub mode: AccessMode,
}

/// A backend resource carrying clauderon's labels that no recorded session owns.
/// Reported, never deleted automatically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrphanResource {
    pub backend: BackendKind,
    pub handle: String,
    pub detail: String,
}

/// What the daemon changed or found when it compared its records with the backends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReconcileReport {
    /// `name: old -> new (why)` for every status fixed.
    pub fixed: Vec<String>,
    pub orphans: Vec<OrphanResource>,
    /// Backends that could not be asked, with the reason.
    pub unreachable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
    /// Backends this daemon can create sessions on.
    pub backends: Vec<BackendKind>,
    pub reconcile: ReconcileReport,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionInfo {
    pub version: String,
    pub api: u32,
}

/// Every error the API returns has this shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code: `not-found`, `conflict`, `invalid`, `unavailable`, …
    pub error: String,
    /// One sentence for a human, saying what to do next where there is something to do.
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries after this id (for following); without it, the latest `limit`.
    #[serde(default)]
    pub after: Option<i64>,
    /// At most this many (default 100, at most 10,000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Only this session's requests (`/api/requests` only; deleted sessions included).
    #[serde(default)]
    pub session: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditList {
    pub requests: Vec<crate::audit::AuditEntry>,
}

/// One credential as `clauderon credentials` shows it: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CredentialView {
    pub name: String,
    pub description: String,
    /// The source that supplies the value (e.g. "env GH_TOKEN"); `None` when nothing is configured.
    pub source: Option<String>,
    /// Every place looked at, in order.
    pub searched: Vec<String>,
    /// Why a source that exists cannot be used (e.g. a file readable by others).
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CredentialList {
    pub credentials: Vec<CredentialView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowHostRequest {
    /// A host name, or `*.example.com` for its subdomains.
    pub host: String,
}

/// Both bounds are replaced: an absent one means "no bound of that kind".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetBudgetRequest {
    #[serde(default)]
    pub tokens: Option<u64>,
    #[serde(default)]
    pub usd_cents: Option<u64>,
}

/// Longest text `send` types into a session, in bytes.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;

/// Text to type into the session's agent, followed by Enter (`clauderon send`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInputRequest {
    /// What to type: a follow-up prompt. Line breaks, quotes and any Unicode arrive as they are.
    pub text: String,
}

/// `GET /api/repos/check?path=`: what the create form shows as the path is typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RepoCheckQuery {
    pub path: String,
}

/// A repository path as `create` would see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RepoCheck {
    /// Usable for `create` (a checkout of a git repository with at least one commit).
    pub ok: bool,
    /// Why not, in the words `create` would use, when not.
    pub problem: Option<String>,
    /// The repository's top level (the path may be a folder inside it).
    pub toplevel: Option<String>,
    /// The checked-out branch (`None`: a detached HEAD or no repository).
    pub branch: Option<String>,
    /// Tracked files with changes: `create` then needs `--base HEAD` (they would not be seen).
    pub dirty: bool,
    /// Local branches, at most 200, in git's order.
    pub branches: Vec<String>,
}

/// `GET /api/repos/recent`: repositories of past sessions, most recent first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecentRepos {
    pub repos: Vec<String>,
}

/// The daemon's VAPID public key, as a browser's `pushManager.subscribe` takes it
/// (`applicationServerKey`: the uncompressed P-256 point, base64url).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PushKey {
    pub public_key: String,
}

/// A browser's push subscription, as `PushSubscription.toJSON()` gives it (keys base64url).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PushSubscribeRequest {
    /// The push service's URL for this browser (`https://`).
    pub endpoint: String,
    pub keys: PushKeys,
    /// `PushSubscription.toJSON()` carries it; not used.
    #[serde(default, rename = "expirationTime")]
    pub expiration_time: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushKeys {
    /// The browser's P-256 public key.
    pub p256dh: String,
    /// The browser's 16-byte authentication secret.
    pub auth: String,
}

/// Which subscription to forget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushUnsubscribeRequest {
    pub endpoint: String,
}

/// Whether a session's notifications are muted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushMute {
    pub muted: bool,
}
