//! The session manager: the one place that changes sessions.
//!
//! Every change goes: lifecycle (pure) -> effects (backend, worktree) -> store
//! (row + events, one transaction) -> bus. Routes and clients never touch the
//! store or a backend directly.

use crate::bus::EventBus;
use crate::config::SessionDefaults;
use crate::error::CoreError;
use crate::worktree;

mod access;
mod agent_status;
mod containment;
mod follow;
pub mod io;
mod policy;
mod reads;
mod reconcile;
mod run;
mod ship;
pub use access::{Restored, SessionAccess};
use chrono::Utc;
use clauderon_backend::{BackendHandle, ProxyAccess, SessionBackend, SessionSpec};
use clauderon_proxy::credentials::CredentialStore;
use clauderon_proxy::identity::new_secret;
use clauderon_store::Store;
use clauderon_types::api::{CreateSessionRequest, DeleteQuery, ListView, MAX_PROMPT_BYTES, ReconcileReport};
use clauderon_types::{
    AccessMode, BackendKind, DataLayout, Effect, EventKind, Session, SessionId, SessionName, SessionStatus,
    Transition,
};
pub use io::SessionIo;
pub use reads::SessionReads;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

/// What the manager is built from.
pub struct ManagerParts {
    pub store: Arc<Store>,
    pub backends: Vec<Arc<dyn SessionBackend>>,
    pub layout: DataLayout,
    pub defaults: SessionDefaults,
    /// The proxy's identities, policies and spending, kept in step with the sessions.
    pub access: SessionAccess,
    pub proxy: ProxyEndpoint,
}

/// Where sessions find the proxy, and which credentials it can inject.
#[derive(Debug, Clone)]
pub struct ProxyEndpoint {
    pub port: u16,
    /// clauderon's CA certificate (PEM).
    pub ca_cert: std::path::PathBuf,
    /// Sessions get a placeholder for each credential configured here, and only for those.
    pub credentials: Option<Arc<CredentialStore>>,
}

impl ProxyEndpoint {
    /// Placeholder variables for the credentials configured right now.
    fn placeholders(&self) -> Vec<(String, String)> {
        let configured: Vec<String> = self
            .credentials
            .as_ref()
            .map(|c| c.describe().into_iter().filter(|i| i.configured()).map(|i| i.name).collect())
            .unwrap_or_default();
        clauderon_proxy::credentials::placeholder_env(&configured)
    }
}

/// A cheap, cloneable handle over the manager's private state.
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    backends: BTreeMap<BackendKind, Arc<dyn SessionBackend>>,
    layout: DataLayout,
    defaults: SessionDefaults,
    access: SessionAccess,
    proxy: ProxyEndpoint,
    bus: EventBus,
    /// Names being created right now: a second create with the same name waits for nothing, it fails.
    reserved: Mutex<HashSet<SessionName>>,
    /// One lock per session so changes to one session are applied in order.
    locks: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<()>>>>,
    last_reconcile: RwLock<ReconcileReport>,
    /// Refusals already recorded as events while reading a session's messages, so a client
    /// polling them does not add one event per read (`containment`).
    reported_refusals: Mutex<HashSet<(SessionId, String)>>,
}

/// Releases a reserved name however `create` ends.
struct Reservation<'a> {
    set: &'a Mutex<HashSet<SessionName>>,
    name: SessionName,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.lock() {
            set.remove(&self.name);
        }
    }
}

fn not_found(name: &str) -> CoreError {
    CoreError::NotFound(format!("no session named `{name}`: `clauderon list --all` shows every session"))
}

impl SessionManager {
    pub fn new(parts: ManagerParts) -> Self {
        let backends = parts.backends.into_iter().map(|b| (b.kind(), b)).collect();
        SessionManager {
            inner: Arc::new(Inner {
                store: parts.store,
                backends,
                layout: parts.layout,
                defaults: parts.defaults,
                access: parts.access,
                proxy: parts.proxy,
                bus: EventBus::new(),
                reserved: Mutex::new(HashSet::new()),
                locks: Mutex::new(HashMap::new()),
                last_reconcile: RwLock::new(ReconcileReport::default()),
                reported_refusals: Mutex::new(HashSet::new()),
            }),
        }
    }

    pub fn bus(&self) -> &EventBus {
        &self.inner.bus
    }

    pub fn available_backends(&self) -> Vec<BackendKind> {
        self.inner.backends.keys().copied().collect()
    }

    pub fn last_reconcile(&self) -> ReconcileReport {
        self.inner.last_reconcile.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// Run a store call off the async threads.
    async fn store<T, F>(&self, f: F) -> Result<T, CoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, clauderon_store::StoreError> + Send + 'static,
    {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| CoreError::Internal(format!("store task: {e}")))?
            .map_err(CoreError::from)
    }

    pub(crate) async fn list(&self, view: ListView) -> Result<Vec<Session>, CoreError> {
        self.store(move |s| s.list(view)).await
    }

    /// The session named `name`.
    pub(crate) async fn get(&self, name: &str) -> Result<Session, CoreError> {
        let parsed = SessionName::parse(name).map_err(|e| CoreError::Invalid(e.to_string()))?;
        self.store(move |s| s.get_by_name(&parsed)).await?.ok_or_else(|| not_found(name))
    }

    fn backend(&self, kind: BackendKind) -> Result<&Arc<dyn SessionBackend>, CoreError> {
        self.inner.backends.get(&kind).ok_or_else(|| {
            let available: Vec<_> = self.inner.backends.keys().map(|k| k.as_str()).collect();
            CoreError::Unavailable(if available.is_empty() {
                format!("the {kind} backend is not available: this daemon has no session backend yet")
            } else {
                format!(
                    "the {kind} backend is not available in this daemon; available: {}",
                    available.join(", ")
                )
            })
        })
    }

    fn pick_backend(&self, asked: Option<BackendKind>) -> Result<BackendKind, CoreError> {
        if let Some(kind) = asked.or(self.inner.defaults.backend) {
            return self.backend(kind).map(|_| kind);
        }
        let mut kinds = self.inner.backends.keys();
        match (kinds.next(), kinds.next()) {
            (Some(only), None) => Ok(*only),
            (None, _) => Err(CoreError::Unavailable(
                "no session backend is available in this daemon yet: sessions cannot be created until one is \
                 (see `clauderon doctor`)"
                    .into(),
            )),
            (Some(_), Some(_)) => {
                let all: Vec<_> = self.inner.backends.keys().map(|k| k.as_str()).collect();
                Err(CoreError::Invalid(format!(
                    "several backends are available ({}): choose one with --backend, or set sessions.backend in the config",
                    all.join(", ")
                )))
            }
        }
    }

    fn reserve(&self, name: &SessionName) -> Result<Reservation<'_>, CoreError> {
        let mut set = self
            .inner
            .reserved
            .lock()
            .map_err(|_| CoreError::Internal("reservation lock poisoned".into()))?;
        if !set.insert(name.clone()) {
            return Err(CoreError::Conflict(format!("a session named `{name}` is being created right now")));
        }
        Ok(Reservation { set: &self.inner.reserved, name: name.clone() })
    }

    async fn unique_name(&self) -> Result<SessionName, CoreError> {
        for _ in 0..32 {
            let name = SessionName::generate(&mut rand::rng());
            let probe = name.clone();
            if self.store(move |s| s.get_by_name(&probe)).await?.is_none() {
                return Ok(name);
            }
        }
        Err(CoreError::Internal("could not generate an unused session name; pass --name".into()))
    }

    fn session_lock(&self, id: SessionId) -> Result<Arc<tokio::sync::Mutex<()>>, CoreError> {
        let mut locks =
            self.inner.locks.lock().map_err(|_| CoreError::Internal("session locks poisoned".into()))?;
        Ok(locks.entry(id).or_default().clone())
    }

    /// Store a changed session with its events, then publish them.
    async fn commit(&self, session: &Session, kinds: Vec<EventKind>) -> Result<(), CoreError> {
        let s = session.clone();
        let at = session.updated_at;
        let events = self.store(move |st| st.update_session(&s, &kinds, at)).await?;
        self.inner.bus.publish(events);
        Ok(())
    }

    /// Apply a lifecycle transition and store it. Returns the effects still to carry out
    /// (backend and worktree work); events are already stored and published.
    async fn transition(&self, session: &mut Session, t: Transition) -> Result<Vec<Effect>, CoreError> {
        let (next, effects) = session.lifecycle().apply(&t)?;
        session.set_lifecycle(next);
        session.updated_at = Utc::now();
        if let Transition::Fail(message) = &t {
            session.error = Some(message.clone());
        }
        let (events, work): (Vec<_>, Vec<_>) =
            effects.into_iter().partition(|e| matches!(e, Effect::Emit(_)));
        let kinds = events
            .into_iter()
            .filter_map(|e| match e {
                Effect::Emit(kind) => Some(kind),
                _ => None,
            })
            .collect();
        self.commit(session, kinds).await?;
        Ok(work)
    }

    pub async fn create(&self, req: CreateSessionRequest) -> Result<Session, CoreError> {
        if req.prompt.len() > MAX_PROMPT_BYTES {
            return Err(CoreError::Invalid(format!(
                "the prompt is {} bytes; the limit is {MAX_PROMPT_BYTES}: put long instructions in a file in the repository",
                req.prompt.len()
            )));
        }
        req.options.validate().map_err(CoreError::Invalid)?;
        policy::host_patterns(&req.options.allow_hosts)?;
        let kind = self.pick_backend(req.backend)?;
        let backend = self.backend(kind)?.clone();
        backend.check().await?;

        let repo = worktree::repo_toplevel(std::path::Path::new(&req.repo_path)).await?;
        let base_commit = match &req.base {
            Some(base) => worktree::resolve_commit(&repo, base).await?,
            None => {
                let head = worktree::resolve_commit(&repo, "HEAD").await?;
                if worktree::has_tracked_changes(&repo).await? {
                    return Err(CoreError::Conflict(format!(
                        "`{}` has uncommitted changes to tracked files; the session starts from the last commit and \
                         would not see them. Commit or stash them, or pass --base HEAD to start from HEAD anyway",
                        repo.display()
                    )));
                }
                head
            }
        };

        let name = match req.name {
            Some(n) => n,
            None => self.unique_name().await?,
        };
        let _reservation = self.reserve(&name)?;
        let probe = name.clone();
        if self.store(move |s| s.get_by_name(&probe)).await?.is_some() {
            return Err(CoreError::Conflict(format!(
                "a session named `{name}` already exists: pick another --name, or delete it first"
            )));
        }

        let branch = worktree::branch_for(name.as_str());
        let worktree_path = self.inner.layout.worktrees().join(name.as_str());
        worktree::add(&repo, &worktree_path, &branch, &base_commit).await?;

        let now = Utc::now();
        let mut session = Session {
            id: SessionId::new(),
            name,
            repo_path: repo,
            branch,
            base_commit,
            worktree_path,
            backend: kind,
            agent: req.agent.unwrap_or(self.inner.defaults.agent),
            access_mode: req.access_mode.unwrap_or(self.inner.defaults.access_mode),
            prompt: req.prompt,
            options: req.options,
            status: SessionStatus::Creating,
            archived: false,
            backend_handle: None,
            error: None,
            created_at: now,
            updated_at: now,
            pull_request: None,
        };
        let created =
            EventKind::Created { backend: kind, agent: session.agent, access_mode: session.access_mode };
        let row = session.clone();
        let inserted = self.store(move |s| s.insert_session(&row, &created, now)).await;
        match inserted {
            Ok(event) => self.inner.bus.publish([event]),
            Err(e) => {
                self.discard_worktree(&session).await;
                return Err(e);
            }
        }

        let secret = new_secret();
        let started = match self.issue_identity(&session, &secret).await {
            Ok(()) => self.start_on_backend(&backend, &mut session, secret).await,
            Err(e) => Err(e),
        };
        match started {
            Ok(()) => Ok(session),
            Err(e) => {
                tracing::warn!(session = %session.name, error = %e, "creating the session on its backend failed; undoing");
                self.undo_create(&backend, &mut session, &e).await;
                Err(e)
            }
        }
    }

    async fn start_on_backend(
        &self,
        backend: &Arc<dyn SessionBackend>,
        session: &mut Session,
        secret: String,
    ) -> Result<(), CoreError> {
        let home = self.inner.layout.session_home(session.name.as_str());
        create_private_dir(&home).await.map_err(|e| {
            CoreError::Internal(format!("creating the session's home {}: {e}", home.display()))
        })?;
        let spec = SessionSpec {
            session_id: session.id,
            name: session.name.clone(),
            worktree: session.worktree_path.clone(),
            repo: session.repo_path.clone(),
            agent: session.agent,
            prompt: session.prompt.clone(),
            options: session.options.clone(),
            home,
            placeholders: self.inner.proxy.placeholders(),
            proxy: ProxyAccess {
                user: session.name.to_string(),
                secret,
                port: self.inner.proxy.port,
                ca_cert: self.inner.proxy.ca_cert.clone(),
            },
        };
        let handle = backend.create(&spec).await?;
        session.backend_handle = Some(handle.0.clone());
        session.updated_at = Utc::now();
        self.commit(session, Vec::new()).await?;
        backend.start(&handle).await?;
        self.transition(session, Transition::Started).await?;
        Ok(())
    }

    /// Take back everything a failed create made, keeping the events that tell the story.
    async fn undo_create(&self, backend: &Arc<dyn SessionBackend>, session: &mut Session, cause: &CoreError) {
        if let Some(handle) = &session.backend_handle
            && let Err(e) = backend.delete(&BackendHandle(handle.clone())).await
        {
            tracing::warn!(session = %session.name, error = %e, "could not delete the backend resource of a failed create");
        }
        self.inner.access.revoke(session);
        let _ = self.transition(session, Transition::Fail(cause.to_string())).await;
        self.discard_worktree(session).await;
        let id = session.id;
        match self.store(move |s| s.remove_session(id, &EventKind::Deleted, Utc::now())).await {
            Ok(event) => self.inner.bus.publish([event]),
            Err(e) => {
                tracing::error!(session = %session.name, error = %e, "could not remove the failed session's row")
            }
        }
    }

    async fn discard_worktree(&self, session: &Session) {
        self.remove_home(session).await;
        if let Err(e) = worktree::remove(&session.repo_path, &session.worktree_path, true).await {
            tracing::warn!(session = %session.name, error = %e, "could not remove the worktree of a failed create");
        }
        if let Err(e) = worktree::delete_branch(&session.repo_path, &session.branch).await {
            tracing::warn!(session = %session.name, error = %e, "could not delete the branch of a failed create");
        }
    }

    /// The session's HOME goes with the session (its transcripts were the agent's, not the user's work).
    async fn remove_home(&self, session: &Session) {
        let home = self.inner.layout.session_home(session.name.as_str());
        match tokio::fs::remove_dir_all(&home).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(session = %session.name, error = %e, home = %home.display(), "could not remove the session's home")
            }
        }
    }

    /// Give a session its proxy identity: stored first (it must survive a restart), then live.
    async fn issue_identity(&self, session: &Session, secret: &str) -> Result<(), CoreError> {
        let (id, stored) = (session.id, secret.to_string());
        self.store(move |s| s.set_proxy_secret(id, &stored)).await?;
        self.inner.access.grant(session, secret.to_string());
        Ok(())
    }

    /// Give the proxy back what it knew of every session before a restart (at start, once):
    /// identities and settings, and the stored spending added to the budget counters.
    pub async fn restore_access(&self) -> Result<Restored, CoreError> {
        for session in self.store(|s| s.list(ListView::All)).await? {
            self.inner.access.sync(&session);
        }
        let secrets = self.store(|s| s.proxy_secrets()).await?;
        let identities = secrets.len();
        for (session_id, name, secret) in secrets {
            self.inner.access.grant_identity(session_id, name, secret);
        }
        let totals = self.store(|s| s.usage_totals()).await?;
        for (id, tokens, usd) in &totals {
            self.inner.access.add_spent(*id, *tokens, *usd);
        }
        Ok(Restored { identities, spending: totals.len() })
    }

    /// Run `f` on the current session under its lock, and return the session after it.
    async fn with_session<F, Fut>(&self, name: &str, f: F) -> Result<Session, CoreError>
    where
        F: FnOnce(Session) -> Fut,
        Fut: std::future::Future<Output = Result<Session, CoreError>>,
    {
        let session = self.get(name).await?;
        let lock = self.session_lock(session.id)?;
        let _guard = lock.lock().await;
        // Re-read under the lock: another change may have landed while we waited.
        let session = self.get(name).await?;
        f(session).await
    }

    pub async fn archive(&self, name: &str) -> Result<Session, CoreError> {
        self.with_session(name, |mut s| async move {
            self.transition(&mut s, Transition::Archive).await?;
            Ok(s)
        })
        .await
    }

    pub async fn unarchive(&self, name: &str) -> Result<Session, CoreError> {
        self.with_session(name, |mut s| async move {
            self.transition(&mut s, Transition::Unarchive).await?;
            Ok(s)
        })
        .await
    }

    pub async fn set_access_mode(&self, name: &str, mode: AccessMode) -> Result<Session, CoreError> {
        self.with_session(name, |mut s| async move {
            if s.status == SessionStatus::Deleting || s.status == SessionStatus::Deleted {
                return Err(CoreError::Conflict(format!("session `{}` is being deleted", s.name)));
            }
            if s.access_mode != mode {
                let from = s.access_mode;
                s.access_mode = mode;
                s.updated_at = Utc::now();
                self.commit(&s, vec![EventKind::AccessModeChanged { from, to: mode }]).await?;
                // The proxy reads the mode on every request: the next one sees the change.
                self.inner.access.sync(&s);
            }
            Ok(s)
        })
        .await
    }

    /// Append an event to a session without changing it (what a backend said happened).
    pub(crate) async fn record_event(&self, name: &str, kind: EventKind) -> Result<Session, CoreError> {
        self.with_session(name, |mut s| async move {
            s.updated_at = Utc::now();
            self.commit(&s, vec![kind]).await?;
            Ok(s)
        })
        .await
    }

    /// Apply a status report (from a backend or an agent hook).
    pub(crate) async fn apply_report(&self, name: &str, t: Transition) -> Result<Session, CoreError> {
        self.with_session(name, |mut s| async move {
            self.transition(&mut s, t).await?;
            Ok(s)
        })
        .await
    }

    pub async fn delete(&self, name: &str, opts: DeleteQuery) -> Result<Session, CoreError> {
        let result = self
            .with_session(name, |mut s| async move {
                if !opts.force
                    && s.worktree_path.exists()
                    && worktree::has_uncommitted_work(&worktree::session_git(&s.repo_path, &s.worktree_path)?)
                        .await
                        .unwrap_or(false)
                {
                    return Err(CoreError::Conflict(format!(
                        "session `{}` has uncommitted work in {}: commit it on branch {}, or delete with --force to discard it",
                        s.name,
                        s.worktree_path.display(),
                        s.branch
                    )));
                }
                let effects = self.transition(&mut s, Transition::BeginDelete).await?;
                if let Err(e) = self.carry_out(&s, &effects, opts.force).await {
                    let message = format!("delete failed: {e}; fix the cause and run `clauderon delete {}` again", s.name);
                    self.transition(&mut s, Transition::Fail(message)).await?;
                    return Err(e);
                }
                if opts.delete_branch {
                    worktree::delete_branch(&s.repo_path, &s.branch).await?;
                }
                let (next, _) = s.lifecycle().apply(&Transition::Deleted)?;
                s.set_lifecycle(next);
                s.updated_at = Utc::now();
                let id = s.id;
                let event = self.store(move |st| st.remove_session(id, &EventKind::Deleted, Utc::now())).await?;
                self.inner.access.revoke(&s);
                self.remove_home(&s).await;
                self.inner.bus.publish([event]);
                Ok(s)
            })
            .await;
        if let Ok(s) = &result
            && let Ok(mut locks) = self.inner.locks.lock()
        {
            locks.remove(&s.id);
        }
        result
    }

    async fn carry_out(&self, s: &Session, effects: &[Effect], force: bool) -> Result<(), CoreError> {
        for effect in effects {
            match effect {
                Effect::DestroyBackend => {
                    let Some(handle) = &s.backend_handle else { continue };
                    let destroyed = match self.backend(s.backend) {
                        Ok(b) => b.delete(&BackendHandle(handle.clone())).await.map_err(CoreError::from),
                        Err(e) => Err(e),
                    };
                    match destroyed {
                        Ok(()) => {}
                        Err(e) if force => {
                            tracing::warn!(session = %s.name, error = %e, "forced delete: leaving the backend resource behind");
                        }
                        Err(e) => return Err(e),
                    }
                }
                Effect::RemoveWorktree => worktree::remove(&s.repo_path, &s.worktree_path, force).await?,
                Effect::Emit(_) => {}
            }
        }
        Ok(())
    }

    pub async fn reconcile(&self) -> Result<ReconcileReport, CoreError> {
        let report = reconcile::run(self).await?;
        if let Ok(mut last) = self.inner.last_reconcile.write() {
            *last = report.clone();
        }
        Ok(report)
    }

    pub(crate) fn backends(&self) -> &BTreeMap<BackendKind, Arc<dyn SessionBackend>> {
        &self.inner.backends
    }

    /// Close the store cleanly (WAL checkpointed). Call after the last request finished.
    ///
    /// A server's connection tasks drop their handle on the manager a moment after they
    /// report being done, and a store call whose request was cancelled still runs to its
    /// end; so the last references are waited for, briefly, before this gives up.
    pub async fn close(self) -> Result<(), CoreError> {
        let inner = sole_owner(self.inner, "the session manager").await?;
        let store = sole_owner(inner.store, "the store").await?;
        tokio::task::spawn_blocking(move || store.close())
            .await
            .map_err(|e| CoreError::Internal(format!("closing store: {e}")))?
            .map_err(CoreError::from)
    }
}

/// Take `shared` out of its `Arc` once every other holder has let go, waiting up to
/// [`CLOSE_WAIT`] for them.
async fn sole_owner<T>(mut shared: Arc<T>, what: &str) -> Result<T, CoreError> {
    let deadline = tokio::time::Instant::now() + CLOSE_WAIT;
    loop {
        match Arc::try_unwrap(shared) {
            Ok(owned) => return Ok(owned),
            Err(still_shared) if tokio::time::Instant::now() < deadline => {
                shared = still_shared;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Err(_) => {
                return Err(CoreError::Internal(format!(
                    "{what} is still in use {}s after shutdown began; cannot close the store",
                    CLOSE_WAIT.as_secs()
                )));
            }
        }
    }
}

/// How long [`SessionManager::close`] waits for the last users of the store.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A folder only the user can enter (its parents as the umask makes them).
async fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::create_dir_all(path).await?;
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).await
}
