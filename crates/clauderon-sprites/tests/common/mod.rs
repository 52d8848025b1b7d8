//! The Sprites backend against a local STAND-IN of the Sprites API
//! (`clauderon_testkit::sprites_api`: each sprite a network namespace of this machine, commands
//! run over the documented exec protocol). Not the real service, which cannot be reached here.

#![allow(dead_code)]

use async_trait::async_trait;
use clauderon_backend::{
    AgentFiles, AttachTarget, BackendError, BackendHandle, BackendResource, BackendStatus, SessionBackend,
    SessionSpec, Terminal,
};
use clauderon_sprites::api::FixedToken;
use clauderon_sprites::{SpritesBackend, SpritesSettings};
use clauderon_testkit::sprites_api::FakeSprites;
use clauderon_types::BackendKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The backend and the stand-in it talks to, which lives as long as it.
pub struct Stood {
    pub backend: SpritesBackend,
    pub fake: FakeSprites,
}

pub async fn stood(proxy_port: u16) -> Stood {
    let fake = FakeSprites::start().await;
    let backend = SpritesBackend::new(SpritesSettings {
        api_url: fake.url.clone(),
        token: Arc::new(FixedToken(fake.token.clone())),
        extra_roots: Vec::new(),
        scope: "test-scope".into(),
        proxy_port,
    });
    Stood { backend, fake }
}

#[async_trait]
impl SessionBackend for Stood {
    fn kind(&self) -> BackendKind {
        self.backend.kind()
    }
    async fn check(&self) -> Result<(), BackendError> {
        self.backend.check().await
    }
    async fn create(&self, spec: &SessionSpec) -> Result<BackendHandle, BackendError> {
        self.backend.create(spec).await
    }
    async fn start(&self, h: &BackendHandle) -> Result<(), BackendError> {
        self.backend.start(h).await
    }
    async fn stop(&self, h: &BackendHandle) -> Result<(), BackendError> {
        self.backend.stop(h).await
    }
    async fn delete(&self, h: &BackendHandle) -> Result<(), BackendError> {
        self.backend.delete(h).await
    }
    async fn status(&self, h: &BackendHandle) -> Result<BackendStatus, BackendError> {
        self.backend.status(h).await
    }
    async fn attach_target(&self, h: &BackendHandle) -> Result<AttachTarget, BackendError> {
        self.backend.attach_target(h).await
    }
    fn agent_workdir(&self, worktree: &Path) -> PathBuf {
        self.backend.agent_workdir(worktree)
    }
    async fn prepare_start(&self, files: &AgentFiles) -> Result<(), BackendError> {
        self.backend.prepare_start(files).await
    }
    async fn terminal(&self, h: &BackendHandle) -> Result<Option<Terminal>, BackendError> {
        self.backend.terminal(h).await
    }
    async fn send_input(&self, h: &BackendHandle, text: &str) -> Result<(), BackendError> {
        self.backend.send_input(h, text).await
    }
    async fn logs(&self, h: &BackendHandle, tail: usize) -> Result<String, BackendError> {
        self.backend.logs(h, tail).await
    }
    async fn list(&self) -> Result<Vec<BackendResource>, BackendError> {
        self.backend.list().await
    }
}
