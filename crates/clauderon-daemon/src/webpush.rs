//! Web Push (issue 15): notifications to the installed web app when a session needs its person —
//! it starts waiting for input, goes idle after working, its process ends with an error or
//! fails, or it reaches its budget. Payloads are encrypted to each browser's keys per RFC 8291
//! (`aes128gcm`) and signed with the daemon's VAPID key (RFC 8292), both by `web-push-native`
//! (RustCrypto); nothing here is hand-made cryptography.
//!
//! The VAPID key is made once, kept in `<data>/webpush-vapid.key` (0600; a file others can
//! read, or a link, is refused with what to do). A dispatcher reads the event bus and hands
//! notifications to one sender through a bounded queue: a slow or dead push service never
//! delays a session or the bus, and a full queue drops with a warning and a `dropped` row in
//! the delivery log. Each push is one row of the hooks' delivery log (hook `web-push`, the
//! target its push service's scheme and host only: an endpoint is a capability). A push
//! service answering 404 or 410 has forgotten the subscription: it is removed.

use crate::hooks::HttpsClient;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use clauderon_store::Store;
use clauderon_store::push::PushSubscription;
use clauderon_types::hooks::{DeliveryOutcome, HookDelivery};
use clauderon_types::{EventKind, SessionEvent, SessionStatus};
use http_body_util::Full;
use serde_json::json;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};
use web_push_native::{Auth, WebPushBuilder, p256};

/// The log's name for these deliveries.
pub const HOOK_NAME: &str = "web-push";
/// Notifications waiting to be sent before new ones are dropped.
const QUEUE: usize = 256;
/// How long a push service keeps a notification for a browser that is offline.
const TTL: Duration = Duration::from_secs(60 * 60);
/// How long one push may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Who the push services may contact about this sender (VAPID's `sub`).
const CONTACT: &str = "mailto:clauderon@localhost";
/// The longest endpoint accepted (real ones are a few hundred bytes).
const MAX_ENDPOINT: usize = 2048;

/// The daemon's VAPID key pair.
pub struct VapidKey {
    pair: ES256KeyPair,
    public: String,
}

impl VapidKey {
    /// The key in `path`, or a new one written there (0600, whole or not at all).
    pub fn load_or_create(path: &Path) -> Result<VapidKey, String> {
        let shown = path.display();
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_file() => {
                return Err(format!(
                    "the web push key {shown} is not a regular file: delete it, and the daemon makes a new one \
                     (browsers then subscribe again)"
                ));
            }
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                return Err(format!(
                    "the web push key {shown} is readable by other users: run `chmod 600 {shown}`"
                ));
            }
            Ok(_) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("reading {shown}: {e}"))?;
                let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| {
                    format!("the web push key {shown} is not a key clauderon wrote: delete it")
                })?;
                let pair = ES256KeyPair::from_bytes(&bytes)
                    .map_err(|_| format!("the web push key {shown} is not a P-256 key: delete it"))?;
                return Ok(VapidKey::from_pair(pair));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{shown}: {e}")),
        }
        let pair = ES256KeyPair::generate();
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        let written = (|| {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            file.write_all(URL_SAFE_NO_PAD.encode(pair.to_bytes()).as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::hard_link(&tmp, path)
        })();
        let _ = std::fs::remove_file(&tmp);
        match written {
            Ok(()) => Ok(VapidKey::from_pair(pair)),
            // Another daemon won the race: use its key.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => VapidKey::load_or_create(path),
            Err(e) => Err(format!("writing the web push key {shown}: {e}")),
        }
    }

    fn from_pair(pair: ES256KeyPair) -> VapidKey {
        let public = URL_SAFE_NO_PAD.encode(pair.public_key().public_key().to_bytes_uncompressed());
        VapidKey { pair, public }
    }

    /// The public key as browsers take it (`applicationServerKey`): the uncompressed point,
    /// base64url.
    pub fn public_key(&self) -> &str {
        &self.public
    }
}

/// A subscription checked: an `https` endpoint with a host, a P-256 public key, a 16-byte
/// secret. The message says what is wrong.
pub fn validate(s: &PushSubscription) -> Result<(), String> {
    if s.endpoint.len() > MAX_ENDPOINT {
        return Err(format!("the endpoint is longer than {MAX_ENDPOINT} bytes"));
    }
    let uri: http::Uri = s.endpoint.parse().map_err(|_| "the endpoint is not a URL".to_string())?;
    if uri.scheme_str() != Some("https") || uri.host().is_none_or(str::is_empty) {
        return Err("the endpoint must be an https:// URL (a browser's push service)".into());
    }
    public_key(&s.p256dh)?;
    auth(&s.auth)?;
    Ok(())
}

fn public_key(p256dh: &str) -> Result<p256::PublicKey, String> {
    let bytes =
        URL_SAFE_NO_PAD.decode(p256dh.trim_end_matches('=')).map_err(|_| "keys.p256dh is not base64url")?;
    p256::PublicKey::from_sec1_bytes(&bytes).map_err(|_| "keys.p256dh is not a P-256 public key".to_string())
}

fn auth(secret: &str) -> Result<Auth, String> {
    let bytes =
        URL_SAFE_NO_PAD.decode(secret.trim_end_matches('=')).map_err(|_| "keys.auth is not base64url")?;
    if bytes.len() != 16 {
        return Err(format!("keys.auth must be 16 bytes, not {}", bytes.len()));
    }
    Ok(Auth::clone_from_slice(&bytes))
}

/// What a notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub seq: i64,
    pub session: String,
    /// The event's tag, or `status:<status>` for a status change.
    pub event: String,
    pub title: String,
    pub body: String,
}

/// The notification an event deserves, if any.
pub fn notification(e: &SessionEvent) -> Option<Notification> {
    let name = e.session_name.as_str();
    let (event, title, body) = match &e.kind {
        EventKind::StatusChanged { to: SessionStatus::WaitingForInput, .. } => (
            "status:waiting-for-input".into(),
            format!("{name} needs you"),
            "It is waiting for your answer.".into(),
        ),
        EventKind::StatusChanged { from: SessionStatus::Running, to: SessionStatus::Idle } => {
            ("status:idle".into(), format!("{name} is done"), "Its turn ended; it is idle.".into())
        }
        EventKind::ProcessEnded { detail } if !detail.contains("code 0") => {
            (e.kind.tag().to_string(), format!("{name} stopped"), format!("Its process {detail}."))
        }
        EventKind::Failed { message, .. } => {
            (e.kind.tag().to_string(), format!("{name} failed"), message.clone())
        }
        EventKind::BudgetExceeded { used } => (
            e.kind.tag().to_string(),
            format!("{name} reached its budget"),
            format!("Model calls are refused ({used}); raise the budget to let it go on."),
        ),
        _ => return None,
    };
    Some(Notification { seq: e.seq, session: name.to_string(), event, title, body })
}

/// The running sender: the key, the subscriptions, the client, and the drop counter.
pub struct WebPush {
    key: VapidKey,
    store: Arc<Store>,
    http: HttpsClient,
    dropped: AtomicU64,
}

impl WebPush {
    pub fn new(key: VapidKey, store: Arc<Store>, http: HttpsClient) -> Arc<WebPush> {
        Arc::new(WebPush { key, store, http, dropped: AtomicU64::new(0) })
    }

    pub fn public_key(&self) -> &str {
        self.key.public_key()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Start the dispatcher and the sender; they end with `shutdown`.
    pub fn start(
        self: &Arc<Self>,
        mut events: broadcast::Receiver<SessionEvent>,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        let (tx, mut rx) = mpsc::channel::<Notification>(QUEUE);
        let (sender, mut stop) = (self.clone(), shutdown.clone());
        let send = tokio::spawn(async move {
            loop {
                let note = tokio::select! {
                    n = rx.recv() => match n { Some(n) => n, None => return },
                    _ = stop.changed() => break,
                };
                sender.send_all(&note).await;
            }
            // Stopping: what is still queued is in the log as dropped, never silently gone.
            rx.close();
            while let Ok(note) = rx.try_recv() {
                let why = Some("the daemon stopped before it was sent");
                sender.record(&note, "", DeliveryOutcome::Dropped, None, Duration::ZERO, why).await;
            }
        });
        let (me, mut stop) = (self.clone(), shutdown);
        let dispatch = tokio::spawn(async move {
            while let Some(event) = crate::hooks::next_event(&mut events, &mut stop, "web push").await {
                let Some(note) = notification(&event) else { continue };
                let store = me.store.clone();
                let session = note.session.clone();
                let muted = tokio::task::spawn_blocking(move || store.push_muted(&session))
                    .await
                    .ok()
                    .and_then(Result::ok);
                if muted == Some(true) {
                    continue;
                }
                if let Err(mpsc::error::TrySendError::Full(note)) = tx.try_send(note) {
                    let n = me.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(dropped = n, session = %note.session, "web push queue full: notification dropped");
                    me.record(
                        &note,
                        "",
                        DeliveryOutcome::Dropped,
                        None,
                        Duration::ZERO,
                        Some("the queue was full"),
                    )
                    .await;
                }
            }
        });
        vec![send, dispatch]
    }

    async fn send_all(&self, note: &Notification) {
        let store = self.store.clone();
        let subscriptions =
            tokio::task::spawn_blocking(move || store.push_subscriptions()).await.ok().and_then(Result::ok);
        for sub in subscriptions.unwrap_or_default() {
            self.send(&sub, note).await;
        }
    }

    /// Push `note` to one subscription and log it.
    async fn send(&self, sub: &PushSubscription, note: &Notification) {
        let started = Instant::now();
        let target = crate::hooks::url_origin(&sub.endpoint);
        let payload = json!({
            "title": note.title,
            "body": note.body,
            "session": note.session,
            "event": note.event,
            "url": format!("/sessions/{}", note.session),
        });
        let request = (|| {
            let uri: http::Uri = sub.endpoint.parse().map_err(|_| "the endpoint is not a URL".to_string())?;
            let builder = WebPushBuilder::new(uri, public_key(&sub.p256dh)?, auth(&sub.auth)?)
                .with_valid_duration(TTL)
                .with_vapid(&self.key.pair, CONTACT);
            builder.build(payload.to_string()).map_err(|e| format!("encrypting: {e}"))
        })();
        let request = match request {
            Ok(r) => r.map(|body| Full::new(Bytes::from(body))),
            Err(why) => {
                self.record(note, &target, DeliveryOutcome::Failed, None, started.elapsed(), Some(&why))
                    .await;
                return;
            }
        };
        let answer = tokio::time::timeout(TIMEOUT, self.http.request(request)).await;
        let (outcome, status, detail) = match answer {
            Err(_) => {
                (DeliveryOutcome::Failed, None, Some("the push service did not answer in 10 s".to_string()))
            }
            Ok(Err(e)) => (DeliveryOutcome::Failed, None, Some(format!("the push service: {e}"))),
            Ok(Ok(resp)) => {
                let code = resp.status().as_u16();
                if code == 404 || code == 410 {
                    let (store, endpoint) = (self.store.clone(), sub.endpoint.clone());
                    let _ =
                        tokio::task::spawn_blocking(move || store.remove_push_subscription(&endpoint)).await;
                    (
                        DeliveryOutcome::Failed,
                        Some(code),
                        Some(
                            "the push service no longer knows this browser: subscription removed".to_string(),
                        ),
                    )
                } else if resp.status().is_success() {
                    (DeliveryOutcome::Ok, Some(code), None)
                } else {
                    (DeliveryOutcome::Failed, Some(code), None)
                }
            }
        };
        self.record(note, &target, outcome, status, started.elapsed(), detail.as_deref()).await;
    }

    async fn record(
        &self,
        note: &Notification,
        target: &str,
        outcome: DeliveryOutcome,
        status: Option<u16>,
        took: Duration,
        detail: Option<&str>,
    ) {
        let row = HookDelivery {
            id: 0,
            at: chrono::Utc::now(),
            hook: HOOK_NAME.into(),
            event: note.event.clone(),
            session_name: Some(note.session.clone()),
            seq: Some(note.seq),
            target: target.to_string(),
            outcome,
            status: status.map(i64::from),
            attempts: u32::from(outcome != DeliveryOutcome::Dropped),
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            detail: detail.map(str::to_string),
        };
        let store = self.store.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || store.record_delivery(&row)).await {
            tracing::warn!("the web push delivery log: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clauderon_types::{SessionId, SessionName};

    fn sub(endpoint: &str) -> PushSubscription {
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        PushSubscription {
            endpoint: endpoint.into(),
            p256dh: URL_SAFE_NO_PAD.encode(secret.public_key().to_sec1_bytes()),
            auth: URL_SAFE_NO_PAD.encode([7u8; 16]),
        }
    }

    #[test]
    fn subscriptions_must_be_https_with_real_keys() {
        assert_eq!(validate(&sub("https://push.example.com/s/abc")), Ok(()));
        for (bad, why) in [
            (sub("http://push.example.com/s"), "https://"),
            (sub("ftp://x/y"), "https://"),
            (sub("not a url"), "not a URL"),
            (PushSubscription { p256dh: "AAAA".into(), ..sub("https://p.example/x") }, "P-256"),
            (
                PushSubscription { auth: URL_SAFE_NO_PAD.encode([1u8; 8]), ..sub("https://p.example/x") },
                "16 bytes",
            ),
            (PushSubscription { auth: "!!".into(), ..sub("https://p.example/x") }, "base64url"),
            (sub(&format!("https://p.example/{}", "a".repeat(3000))), "longer"),
        ] {
            let err = validate(&bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    fn event(kind: EventKind) -> SessionEvent {
        SessionEvent {
            seq: 4,
            session_id: SessionId::new(),
            session_name: SessionName::parse("fixer").unwrap(),
            at: chrono::Utc::now(),
            kind,
        }
    }

    #[test]
    fn only_what_needs_the_person_is_notified() {
        use SessionStatus::*;
        let waiting =
            notification(&event(EventKind::StatusChanged { from: Running, to: WaitingForInput })).unwrap();
        assert_eq!(
            (waiting.event.as_str(), waiting.title.as_str()),
            ("status:waiting-for-input", "fixer needs you")
        );
        assert!(notification(&event(EventKind::StatusChanged { from: Running, to: Idle })).is_some());
        assert!(notification(&event(EventKind::StatusChanged { from: Stopped, to: Idle })).is_none());
        assert!(notification(&event(EventKind::StatusChanged { from: Idle, to: Running })).is_none());
        assert!(
            notification(&event(EventKind::ProcessEnded { detail: "exited with code 3".into() })).is_some()
        );
        assert!(
            notification(&event(EventKind::ProcessEnded { detail: "exited with code 0".into() })).is_none()
        );
        assert!(notification(&event(EventKind::BudgetExceeded { used: "$1.00".into() })).is_some());
        assert!(notification(&event(EventKind::Archived)).is_none());
    }

    #[test]
    fn the_key_is_made_once_private_and_refused_when_others_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webpush-vapid.key");
        let made = VapidKey::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(VapidKey::load_or_create(&path).unwrap().public_key(), made.public_key(), "kept");
        assert_eq!(URL_SAFE_NO_PAD.decode(made.public_key()).unwrap().len(), 65);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = VapidKey::load_or_create(&path).err().unwrap();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &path).unwrap();
        let err = VapidKey::load_or_create(&path).err().unwrap();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn the_log_names_only_the_push_services_origin() {
        let target = crate::hooks::url_origin("https://fcm.googleapis.com/fcm/send/SECRET-TOKEN");
        assert_eq!(target, "https://fcm.googleapis.com");
    }
}
