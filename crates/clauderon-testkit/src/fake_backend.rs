//! An in-process backend that keeps its "resources" in memory.
//!
//! It is a fake, used where no real backend is wanted: the manager's and the
//! API's tests, and the CLI end-to-end tests. It must pass the same contract
//! suite as the real ones. One instance outlives a daemon restart when a test
//! keeps it, just as containers outlive a daemon. It stands in for the Zellij
//! backend (it reports that kind): the product's types know no test backend.

use async_trait::async_trait;
use clauderon_backend::{
    AttachTarget, BackendError, BackendHandle, BackendResource, BackendStatus, ProxyAccess, SessionBackend,
    SessionSpec,
};
use clauderon_types::{BackendKind, SessionId};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Clone)]
struct Resource {
    session_id: SessionId,
    name: String,
    running: bool,
    log: Vec<String>,
    /// What a real backend would put in the session's environment.
    proxy: Option<ProxyAccess>,
    /// Each `send_input` text, in order.
    typed: Vec<String>,
}

#[derive(Debug, Default)]
pub struct FakeBackend {
    resources: Mutex<BTreeMap<String, Resource>>,
    next: AtomicU64,
    /// When set, `create` fails with this message (to test undo paths).
    fail_create: Mutex<Option<String>>,
    /// When set, `create` takes this long (to have a request in flight).
    create_delay: Mutex<Option<std::time::Duration>>,
    /// The proxy access of every session `create` was called for, as soon as it is called
    /// (before a delay): what the session's process would hold while it is being created.
    given: Mutex<BTreeMap<String, ProxyAccess>>,
}

const KIND: BackendKind = BackendKind::Zellij;

fn not_found(h: &BackendHandle) -> BackendError {
    BackendError::NotFound { backend: KIND, handle: h.0.clone() }
}

impl FakeBackend {
    pub fn new() -> Arc<Self> {
        Arc::new(FakeBackend::default())
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Resource>> {
        self.resources.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Make the next creates fail (or succeed again with `None`).
    pub fn fail_creates(&self, message: Option<&str>) {
        *self.fail_create.lock().unwrap_or_else(|p| p.into_inner()) = message.map(str::to_string);
    }

    /// Make creates slow, e.g. to shut the daemon down while one is in flight.
    pub fn delay_creates(&self, delay: Option<std::time::Duration>) {
        *self.create_delay.lock().unwrap_or_else(|p| p.into_inner()) = delay;
    }

    /// Simulate the process ending on its own (or a resource made by hand).
    pub fn set_running(&self, handle: &str, running: bool) {
        if let Some(r) = self.lock().get_mut(handle) {
            r.running = running;
        }
    }

    /// Simulate a resource vanishing behind clauderon's back.
    pub fn remove_behind_our_back(&self, handle: &str) {
        self.lock().remove(handle);
    }

    /// Add a resource no session owns, as reconcile should find.
    pub fn add_stray(&self, handle: &str) {
        self.lock().insert(
            handle.into(),
            Resource {
                session_id: SessionId::new(),
                name: handle.into(),
                running: true,
                log: Vec::new(),
                proxy: None,
                typed: Vec::new(),
            },
        );
    }

    /// The proxy access the named session was created with: its identity and the CA,
    /// exactly what a real backend puts in the session's environment.
    pub fn proxy_for(&self, session: &str) -> Option<ProxyAccess> {
        let made = self.lock().values().find(|r| r.name == session).and_then(|r| r.proxy.clone());
        made.or_else(|| self.given.lock().unwrap_or_else(|p| p.into_inner()).get(session).cloned())
    }

    /// The texts `send_input` typed into a session's resource, by session name.
    pub fn typed(&self, session: &str) -> Vec<String> {
        self.lock().values().filter(|r| r.name == session).flat_map(|r| r.typed.clone()).collect()
    }

    pub fn handles(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}

#[async_trait]
impl SessionBackend for FakeBackend {
    fn kind(&self) -> BackendKind {
        KIND
    }

    async fn check(&self) -> Result<(), BackendError> {
        Ok(())
    }

    async fn create(&self, spec: &SessionSpec) -> Result<BackendHandle, BackendError> {
        self.given
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(spec.name.to_string(), spec.proxy.clone());
        let delay = *self.create_delay.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(message) = self.fail_create.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(BackendError::Failed { backend: KIND, message });
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let handle = format!("fake-{}-{n}", spec.name);
        // The fake does not run the command; its log records it, so `logs` shows the command text.
        let log = vec![format!("fake: created for {} running {:?}", spec.name, spec.options.command)];
        let resource = Resource {
            session_id: spec.session_id,
            name: spec.name.to_string(),
            running: false,
            log,
            proxy: Some(spec.proxy.clone()),
            typed: Vec::new(),
        };
        self.lock().insert(handle.clone(), resource);
        Ok(BackendHandle(handle))
    }

    async fn start(&self, h: &BackendHandle) -> Result<(), BackendError> {
        let mut map = self.lock();
        let r = map.get_mut(&h.0).ok_or_else(|| not_found(h))?;
        r.running = true;
        r.log.push("fake: started".into());
        Ok(())
    }

    async fn stop(&self, h: &BackendHandle) -> Result<(), BackendError> {
        let mut map = self.lock();
        let r = map.get_mut(&h.0).ok_or_else(|| not_found(h))?;
        r.running = false;
        Ok(())
    }

    async fn delete(&self, h: &BackendHandle) -> Result<(), BackendError> {
        self.lock().remove(&h.0);
        Ok(())
    }

    async fn status(&self, h: &BackendHandle) -> Result<BackendStatus, BackendError> {
        Ok(match self.lock().get(&h.0) {
            Some(r) if r.running => BackendStatus::Running,
            Some(_) => BackendStatus::Stopped,
            None => BackendStatus::Missing,
        })
    }

    async fn attach_target(&self, h: &BackendHandle) -> Result<AttachTarget, BackendError> {
        if !self.lock().contains_key(&h.0) {
            return Err(not_found(h));
        }
        Ok(AttachTarget::Command { program: "true".into(), args: vec![h.0.clone()] })
    }

    /// The fake runs no process: it records what was typed as the contract's reading command
    /// would print it (`got[<line>]` per line), and what was sent, for [`FakeBackend::typed`].
    async fn send_input(&self, h: &BackendHandle, text: &str) -> Result<(), BackendError> {
        let mut map = self.lock();
        let r = map.get_mut(&h.0).ok_or_else(|| not_found(h))?;
        if !r.running {
            return Err(BackendError::Failed { backend: KIND, message: "the process is not running".into() });
        }
        r.log.extend(text.lines().map(|l| format!("got[{l}]")));
        r.typed.push(text.to_string());
        Ok(())
    }

    async fn logs(&self, h: &BackendHandle, tail: usize) -> Result<String, BackendError> {
        let map = self.lock();
        let r = map.get(&h.0).ok_or_else(|| not_found(h))?;
        let start = r.log.len().saturating_sub(tail);
        Ok(r.log[start..].join("\n"))
    }

    async fn list(&self) -> Result<Vec<BackendResource>, BackendError> {
        Ok(self
            .lock()
            .iter()
            .map(|(h, r)| BackendResource {
                handle: BackendHandle(h.clone()),
                session_id: Some(r.session_id),
                status: if r.running { BackendStatus::Running } else { BackendStatus::Stopped },
                detail: format!("fake resource {h}"),
            })
            .collect())
    }
}
