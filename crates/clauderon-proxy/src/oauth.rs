//! Claude subscription (OAuth) logins, kept fresh by the daemon.
//!
//! The user gives clauderon a Claude credentials file (Claude Code's own format, see [`mod@file`]).
//! [`TokenRefresher`] serves its access token to the injection rule and, when the token
//! expires within [`REFRESH_MARGIN`], first trades the refresh token for a new one at the
//! token endpoint and writes the new tokens back to the file. Concurrent requests wait for
//! the one refresh under way. The refresh token never leaves the daemon: sessions hold
//! placeholders, and their own refresh attempts are answered by the proxy
//! (`agent_refresh`). A failed refresh is remembered so requests fail fast with a message
//! that says what to do, instead of each asking the endpoint again.

mod agent_refresh;
mod endpoint;
pub mod file;

pub use agent_refresh::{
    AgentTokenRefresh, PLACEHOLDER_LIFETIME_SECS, PLACEHOLDER_TOKEN, agent_refresh_routes,
};
pub use endpoint::{HttpTokenEndpoint, REFRESH_TIMEOUT, RefreshError, TokenEndpoint, TokenGrant};
pub use file::OAuthTokens;

use crate::secret::{CredentialError, Secret};
use file::FileStamp;
use http::Uri;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The token endpoint Claude Code uses (2.1.x: its `TOKEN_URL`).
pub const DEFAULT_TOKEN_URL: &str = "https://platform.claude.com/v1/oauth/token";
/// The token endpoint older Claude Code versions used; sessions' refreshes to it are answered too.
pub const LEGACY_TOKEN_URL: &str = "https://console.anthropic.com/v1/oauth/token";
/// Claude Code's public OAuth client id (2.1.x: its `CLIENT_ID`).
pub const DEFAULT_CLIENT_ID: &str = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";
/// An access token this close to expiry is refreshed before it is used.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// After a refresh failed for a reason that may pass (endpoint down), wait this long before
/// asking again; requests meanwhile get the failure (or the old token while it still works).
/// A refused refresh token is not tried again until the file changes.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);
/// The background keeper looks at a file at least this often (a new file, a clock that jumped
/// across a suspend).
const MAX_CHECK_INTERVAL: Duration = Duration::from_secs(10 * 60);

fn default_token_url() -> Uri {
    Uri::from_static(DEFAULT_TOKEN_URL)
}

/// Where and as whom the daemon refreshes, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    token_url: Uri,
    client_id: String,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        OAuthSettings { token_url: default_token_url(), client_id: DEFAULT_CLIENT_ID.to_string() }
    }
}

impl OAuthSettings {
    /// `token_url` must be an `https://` URL; `client_id` printable ASCII without spaces.
    pub fn new(token_url: &str, client_id: &str) -> Result<Self, String> {
        let url: Uri = token_url.parse().map_err(|_| format!("token_url `{token_url}` is not a URL"))?;
        if url.scheme_str() != Some("https") || url.host().is_none_or(str::is_empty) {
            return Err(format!("token_url `{token_url}` must be an https:// URL with a host"));
        }
        if client_id.is_empty() || !client_id.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(format!("client_id `{client_id}` must be printable ASCII without spaces"));
        }
        Ok(OAuthSettings { token_url: url, client_id: client_id.to_string() })
    }

    pub fn token_url(&self) -> &Uri {
        &self.token_url
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

/// Wall-clock time in milliseconds since the epoch (the unit of `expiresAt`). Tests inject one.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Whether a token expiring at `expires_at_ms` must be refreshed before use at `now_ms`.
pub fn needs_refresh(expires_at_ms: Option<i64>, now_ms: i64, margin: Duration) -> bool {
    expires_at_ms.is_some_and(|at| now_ms >= at.saturating_sub(ms(margin)))
}

/// Whether a token expiring at `expires_at_ms` still works at `now_ms`.
pub fn still_valid(expires_at_ms: Option<i64>, now_ms: i64) -> bool {
    expires_at_ms.is_none_or(|at| now_ms < at)
}

/// How long the keeper sleeps before looking again at a token expiring at `expires_at_ms`.
pub fn next_check(expires_at_ms: Option<i64>, now_ms: i64, margin: Duration) -> Duration {
    let Some(at) = expires_at_ms else { return MAX_CHECK_INTERVAL };
    let until_due = at.saturating_sub(ms(margin)).saturating_sub(now_ms);
    Duration::from_millis(u64::try_from(until_due).unwrap_or(0)).clamp(RETRY_AFTER, MAX_CHECK_INTERVAL)
}

#[derive(Debug)]
struct Failure {
    at_ms: i64,
    error: RefreshError,
}

/// What is known of one file: the version last read or written, and the last failed refresh.
#[derive(Debug, Default)]
struct Slot {
    stamp: Option<FileStamp>,
    tokens: Option<OAuthTokens>,
    failure: Option<Failure>,
}

/// Serves fresh access tokens from Claude credentials files. Cheap to share behind an `Arc`.
pub struct TokenRefresher {
    endpoint: Arc<dyn TokenEndpoint>,
    clock: Arc<dyn Clock>,
    margin: Duration,
    retry_after: Duration,
    /// One slot per file; its async lock makes concurrent refreshes of a file one refresh.
    slots: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl std::fmt::Debug for TokenRefresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRefresher").field("margin", &self.margin).finish_non_exhaustive()
    }
}

impl TokenRefresher {
    pub fn new(endpoint: Arc<dyn TokenEndpoint>) -> Self {
        TokenRefresher {
            endpoint,
            clock: Arc::new(SystemClock),
            margin: REFRESH_MARGIN,
            retry_after: RETRY_AFTER,
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn slot(&self, path: &Path) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(path.to_path_buf()).or_default().clone()
    }

    /// The access token of the file at `path`, refreshed first when it expires within the
    /// margin; `Ok(None)` when the file is missing or empty. When a refresh fails the old
    /// token is still served while it works; after that the error says what to do.
    pub async fn access_token(&self, path: &Path) -> Result<Option<Secret>, CredentialError> {
        Ok(self.fresh(path).await?.map(|t| t.access))
    }

    async fn fresh(&self, path: &Path) -> Result<Option<OAuthTokens>, CredentialError> {
        // Owned, so the refresh below can take it into its own task.
        let mut slot = self.slot(path).lock_owned().await;
        // A stat per request: a file the user replaced (a new login) is read again.
        let Some(stamp) = file::stamp(path)? else {
            *slot = Slot::default();
            return Ok(None);
        };
        if slot.stamp != Some(stamp) {
            *slot = Slot { stamp: Some(stamp), tokens: file::read(path)?, failure: None };
        }
        let Some(tokens) = slot.tokens.clone() else { return Ok(None) };
        let now = self.clock.now_ms();
        if !needs_refresh(tokens.expires_at_ms, now, self.margin) {
            return Ok(Some(tokens));
        }
        let usable = still_valid(tokens.expires_at_ms, now);
        if let Some(f) = &slot.failure {
            let wait_over = f.error.is_retryable() && now.saturating_sub(f.at_ms) >= ms(self.retry_after);
            if !wait_over {
                return if usable { Ok(Some(tokens)) } else { Err(refresh_failed(path, &f.error)) };
            }
        }
        if tokens.refresh.is_none() {
            return if usable {
                Ok(Some(tokens))
            } else {
                Err(CredentialError::OAuthRefreshFailed {
                    path: path.to_path_buf(),
                    reason: "the file holds no refresh token".to_string(),
                    retryable: false,
                })
            };
        }
        // Its own task, holding the slot: a request that goes away mid-refresh must not cut it
        // off after the endpoint rotated the refresh token, or the login would be lost.
        let endpoint = self.endpoint.clone();
        let file = path.to_path_buf();
        let refresh = tokio::spawn(async move {
            let result = match &tokens.refresh {
                Some(refresh) => endpoint.refresh(refresh, &tokens.scopes).await,
                None => Err(RefreshError::BadAnswer { reason: "no refresh token".into() }),
            };
            settle(&mut slot, &file, now, tokens, result)
        });
        refresh.await.unwrap_or_else(|e| {
            Err(CredentialError::OAuthRefreshFailed {
                path: path.to_path_buf(),
                reason: format!("the refresh task ended: {e}"),
                retryable: true,
            })
        })
    }

    /// Refresh the file's token ahead of use, so no request waits for it, until `shutdown`.
    pub async fn keep_fresh(self: Arc<Self>, path: PathBuf, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            // Stopping mid-refresh is safe: the refresh runs to its end in its own task.
            let fresh = tokio::select! {
                fresh = self.fresh(&path) => fresh,
                _ = &mut shutdown => break,
            };
            let wait = match fresh {
                Ok(Some(tokens)) => next_check(tokens.expires_at_ms, self.clock.now_ms(), self.margin),
                Ok(None) => MAX_CHECK_INTERVAL,
                Err(e) => {
                    tracing::debug!(error = %e, "Claude login not fresh");
                    self.retry_after
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut shutdown => break,
            }
        }
    }
}

fn refresh_failed(path: &Path, error: &RefreshError) -> CredentialError {
    CredentialError::OAuthRefreshFailed {
        path: path.to_path_buf(),
        reason: error.to_string(),
        retryable: error.is_retryable(),
    }
}

/// Record how a refresh of `old` (started at `now`) went: save and serve the new tokens, or
/// remember the failure and serve the old token while it still works.
fn settle(
    slot: &mut Slot,
    path: &Path,
    now: i64,
    old: OAuthTokens,
    result: Result<TokenGrant, RefreshError>,
) -> Result<Option<OAuthTokens>, CredentialError> {
    match result {
        Ok(grant) => {
            let new = OAuthTokens {
                access: grant.access_token,
                refresh: grant.refresh_token.or(old.refresh),
                // Counted from before the request: errs on the early side.
                expires_at_ms: Some(now.saturating_add(ms(grant.expires_in))),
                scopes: grant.scopes.unwrap_or(old.scopes),
            };
            match file::write(path, &new) {
                Ok(()) => slot.stamp = file::stamp(path).ok().flatten(),
                // Kept in memory (the old refresh token may be spent) and written at the next refresh.
                Err(e) => tracing::error!(error = %e, "could not save the refreshed Claude login"),
            }
            tracing::info!(path = %path.display(), "refreshed the Claude subscription token");
            slot.tokens = Some(new.clone());
            slot.failure = None;
            Ok(Some(new))
        }
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "refreshing the Claude subscription token failed");
            let result = if still_valid(old.expires_at_ms, now) {
                Ok(Some(old))
            } else {
                Err(refresh_failed(path, &error))
            };
            slot.failure = Some(Failure { at_ms: now, error });
            result
        }
    }
}

/// The access token of a Claude credentials file as it is, without refreshing (for a store
/// that has no refresher).
pub fn stored_access_token(path: &Path) -> Result<Option<Secret>, CredentialError> {
    Ok(file::read(path)?.map(|t| t.access))
}

#[cfg(test)]
mod tests;
