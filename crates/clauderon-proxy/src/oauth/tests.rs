//! The refresher against a fake token endpoint and a clock the test moves.

use super::*;
use async_trait::async_trait;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

const HOUR_MS: i64 = 60 * 60 * 1000;
const T0: i64 = 1_800_000_000_000;

struct ManualClock(AtomicI64);

impl ManualClock {
    fn at(ms: i64) -> Arc<Self> {
        Arc::new(ManualClock(AtomicI64::new(ms)))
    }

    fn advance(&self, d: Duration) {
        self.0.fetch_add(ms(d), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Answers with `access-N`/`refresh-N` for the N-th call, or fails as told; records what it got.
#[derive(Default)]
struct FakeEndpoint {
    calls: AtomicUsize,
    seen: Mutex<Vec<(String, Vec<String>)>>,
    fail_with: Mutex<Option<RefreshError>>,
    delay: Duration,
}

#[async_trait]
impl TokenEndpoint for FakeEndpoint {
    async fn refresh(&self, refresh_token: &Secret, scopes: &[String]) -> Result<TokenGrant, RefreshError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.seen.lock().unwrap().push((refresh_token.expose().to_string(), scopes.to_vec()));
        tokio::time::sleep(self.delay).await;
        if let Some(e) = self.fail_with.lock().unwrap().clone() {
            return Err(e);
        }
        Ok(TokenGrant {
            access_token: Secret::new(format!("access-{n}")),
            refresh_token: Some(Secret::new(format!("refresh-{n}"))),
            expires_in: Duration::from_secs(8 * 60 * 60),
            scopes: None,
        })
    }
}

fn setup(
    expires_at: Option<i64>,
    endpoint: FakeEndpoint,
) -> (tempfile::TempDir, PathBuf, Arc<FakeEndpoint>, Arc<ManualClock>, TokenRefresher) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("anthropic_oauth.json");
    write_login(&path, "access-0", "refresh-0", expires_at);
    let endpoint = Arc::new(endpoint);
    let clock = ManualClock::at(T0);
    let refresher = TokenRefresher::new(endpoint.clone()).with_clock(clock.clone());
    (dir, path, endpoint, clock, refresher)
}

fn write_login(path: &Path, access: &str, refresh: &str, expires_at: Option<i64>) {
    let doc = serde_json::json!({"claudeAiOauth": {
        "accessToken": access, "refreshToken": refresh, "expiresAt": expires_at,
        "scopes": ["user:inference", "user:profile"], "subscriptionType": "max"}});
    std::fs::write(path, doc.to_string()).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

async fn token(r: &TokenRefresher, path: &Path) -> String {
    r.access_token(path).await.unwrap().unwrap().expose().to_string()
}

#[test]
fn the_margin_decides_when_a_refresh_is_due() {
    let margin = REFRESH_MARGIN;
    let expires = T0 + HOUR_MS;
    assert!(!needs_refresh(Some(expires), T0, margin));
    assert!(!needs_refresh(Some(expires), expires - ms(margin) - 1, margin));
    assert!(needs_refresh(Some(expires), expires - ms(margin), margin), "due exactly at the margin");
    assert!(needs_refresh(Some(expires), expires + 1, margin));
    assert!(!needs_refresh(None, T0, margin), "a token without expiry is never refreshed");
    assert!(still_valid(Some(expires), expires - 1) && !still_valid(Some(expires), expires));
    assert!(still_valid(None, i64::MAX));

    assert_eq!(next_check(Some(expires), T0, margin), MAX_CHECK_INTERVAL, "capped");
    let soon = T0 + ms(margin) + 2 * 60 * 1000;
    assert_eq!(next_check(Some(soon), T0, margin), Duration::from_secs(120));
    assert_eq!(next_check(Some(T0), T0, margin), RETRY_AFTER, "overdue: not a busy loop");
}

#[tokio::test]
async fn a_fresh_token_is_served_without_asking_the_endpoint() {
    let (_d, path, endpoint, _clock, r) = setup(Some(T0 + HOUR_MS), FakeEndpoint::default());
    assert_eq!(token(&r, &path).await, "access-0");
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_and_saved() {
    let (_d, path, endpoint, clock, r) = setup(Some(T0 + HOUR_MS), FakeEndpoint::default());
    clock.advance(Duration::from_secs(56 * 60)); // 4 minutes left: inside the margin
    assert_eq!(token(&r, &path).await, "access-1");
    assert_eq!(
        endpoint.seen.lock().unwrap().clone(),
        [("refresh-0".to_string(), vec!["user:inference".to_string(), "user:profile".to_string()])]
    );
    let saved = file::read(&path).unwrap().unwrap();
    assert_eq!(saved.access.expose(), "access-1");
    assert_eq!(saved.refresh.as_ref().map(Secret::expose), Some("refresh-1"));
    assert_eq!(saved.expires_at_ms, Some(clock.now_ms() + 8 * HOUR_MS));
    assert_eq!(token(&r, &path).await, "access-1", "served from the new expiry");
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 1);
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["claudeAiOauth"]["subscriptionType"], "max", "other fields survive the write");
}

#[tokio::test]
async fn concurrent_requests_share_one_refresh() {
    let slow = FakeEndpoint { delay: Duration::from_millis(100), ..Default::default() };
    let (_d, path, endpoint, _clock, r) = setup(Some(T0 - 1), slow);
    let r = Arc::new(r);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (r, path) = (r.clone(), path.clone());
            tokio::spawn(async move { token(&r, &path).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), "access-1");
    }
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 1, "one refresh for all of them");
}

#[tokio::test]
async fn a_refresh_completes_and_is_saved_when_the_request_goes_away() {
    let slow = FakeEndpoint { delay: Duration::from_millis(200), ..Default::default() };
    let (_d, path, endpoint, _clock, r) = setup(Some(T0 - 1), slow);
    // The session hangs up while the endpoint is answering (it may already have rotated the
    // refresh token): the refresh must still finish and be saved, or the login is lost.
    let gone = tokio::time::timeout(Duration::from_millis(20), r.access_token(&path)).await;
    assert!(gone.is_err(), "the request was meant to go away mid-refresh");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let saved = file::read(&path).unwrap().unwrap();
    assert_eq!(saved.refresh.as_ref().map(Secret::expose), Some("refresh-1"));
    assert_eq!(token(&r, &path).await, "access-1");
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_refresh_fails_clearly_and_is_not_retried_until_the_file_changes() {
    let refused = FakeEndpoint::default();
    *refused.fail_with.lock().unwrap() =
        Some(RefreshError::Refused { status: 400, code: Some("invalid_grant".into()) });
    let (_d, path, endpoint, clock, r) = setup(Some(T0 - 1), refused);
    let err = r.access_token(&path).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("invalid_grant") && text.contains("claude login"), "{text}");
    assert!(!text.contains("refresh-0") && !text.contains("access-0"), "{text}");
    assert!(!err.is_retryable());
    clock.advance(RETRY_AFTER * 10);
    assert!(r.access_token(&path).await.is_err());
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 1, "a refused refresh token is not tried again");

    // The user logs in again and copies the file: it is read and used at once.
    write_login(&path, "access-new-login", "refresh-new-login", Some(clock.now_ms() + HOUR_MS));
    assert_eq!(token(&r, &path).await, "access-new-login");
}

#[tokio::test]
async fn while_the_endpoint_is_down_the_old_token_serves_until_it_expires() {
    let down = FakeEndpoint::default();
    *down.fail_with.lock().unwrap() = Some(RefreshError::Unavailable { status: 503 });
    let (_d, path, endpoint, clock, r) = setup(Some(T0 + 2 * 60 * 1000), down);
    assert_eq!(token(&r, &path).await, "access-0", "still valid for 2 minutes");
    assert_eq!(token(&r, &path).await, "access-0");
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 1, "not asked again before RETRY_AFTER");

    clock.advance(RETRY_AFTER);
    assert_eq!(token(&r, &path).await, "access-0");
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 2, "retried after RETRY_AFTER");

    clock.advance(Duration::from_secs(60)); // expired now; the third try fails too
    let err = r.access_token(&path).await.unwrap_err();
    assert!(err.is_retryable() && err.to_string().contains("503"), "{err}");
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 3);
    assert!(r.access_token(&path).await.is_err(), "fails fast until RETRY_AFTER");
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 3);

    *endpoint.fail_with.lock().unwrap() = None;
    clock.advance(RETRY_AFTER);
    assert_eq!(token(&r, &path).await, "access-4", "back once the endpoint is");
}

#[tokio::test]
async fn a_token_without_refresh_token_or_expiry_is_served_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    std::fs::write(&path, r#"{"claudeAiOauth":{"accessToken":"long-lived"}}"#).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let endpoint = Arc::new(FakeEndpoint::default());
    let r = TokenRefresher::new(endpoint.clone()).with_clock(ManualClock::at(T0));
    assert_eq!(token(&r, &path).await, "long-lived");
    assert_eq!(r.access_token(&dir.path().join("absent.json")).await.unwrap(), None);
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 0);

    std::fs::write(&path, format!(r#"{{"claudeAiOauth":{{"accessToken":"a","expiresAt":{}}}}}"#, T0 - 1))
        .unwrap();
    let err = r.access_token(&path).await.unwrap_err().to_string();
    assert!(err.contains("no refresh token") && err.contains("claude login"), "{err}");
}

#[tokio::test]
async fn the_keeper_refreshes_ahead_of_use() {
    let (_d, path, endpoint, _clock, r) = setup(Some(T0 + 60 * 1000), FakeEndpoint::default());
    let r = Arc::new(r);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let keeper = tokio::spawn(r.clone().keep_fresh(path.clone(), async move {
        let _ = stopped.await;
    }));
    let waited = tokio::time::timeout(Duration::from_secs(5), async {
        while endpoint.calls.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(waited.await.is_ok(), "the keeper did not refresh a token 1 minute from expiry");
    assert_eq!(file::read(&path).unwrap().unwrap().access.expose(), "access-1");
    let _ = stop.send(());
    keeper.await.unwrap();
}
