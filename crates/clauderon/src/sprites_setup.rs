//! The Sprites backend in the shipped daemon. It registers everywhere; its API token is the
//! credential `sprites_token`, read by the daemon each time it calls the API: a source under
//! `[credentials]`, else env SPRITES_TOKEN (or SPRITE_TOKEN, the Sprites CLI's), else
//! `<data dir>/secrets/sprites_token` (0600). Without one, creating a session with it says
//! where to put it. It is not a credential the proxy injects: no session ever holds it.

use async_trait::async_trait;
use clauderon_core::Config;
use clauderon_daemon::LaunchOptions;
use clauderon_proxy::credentials::{CredentialSource, CredentialStore};
use clauderon_sprites::api::TokenSource;
use clauderon_sprites::{SpritesBackend, SpritesSettings};
use clauderon_types::DataLayout;
use std::sync::Arc;

/// The credential the Sprites API token is.
pub const TOKEN_NAME: &str = "sprites_token";

struct CredentialToken {
    store: CredentialStore,
    secrets_file: std::path::PathBuf,
}

#[async_trait]
impl TokenSource for CredentialToken {
    async fn token(&self) -> Result<String, String> {
        match self.store.resolve(TOKEN_NAME).await {
            Ok(Some(secret)) => Ok(secret.expose().to_string()),
            Ok(None) => Err(format!(
                "set SPRITES_TOKEN in the daemon's environment, write it to {} (mode 0600), or give \
                 `{TOKEN_NAME} = \"op://…\"` under [credentials]; then restart the daemon if you set the variable",
                self.secrets_file.display()
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

pub fn settings(config: &Config, layout: &DataLayout) -> SpritesSettings {
    let mut sources: Vec<(String, CredentialSource)> =
        config.proxy.credentials.iter().filter(|(n, _)| n == TOKEN_NAME).cloned().collect();
    for var in ["SPRITES_TOKEN", "SPRITE_TOKEN"] {
        sources.push((TOKEN_NAME.to_string(), CredentialSource::Env(var.to_string())));
    }
    let store = CredentialStore::from_process_env(layout.secrets(), sources);
    SpritesSettings {
        api_url: config
            .sprites
            .api_url
            .clone()
            .unwrap_or_else(|| clauderon_sprites::api::DEFAULT_API_URL.into()),
        token: Arc::new(CredentialToken { store, secrets_file: layout.secrets().join(TOKEN_NAME) }),
        extra_roots: Vec::new(),
        scope: layout.root().display().to_string(),
        proxy_port: config.proxy.bind.port(),
    }
}

pub fn register(options: &mut LaunchOptions, layout: &DataLayout) {
    let settings = settings(&options.config, layout);
    options.backends.push(Arc::new(SpritesBackend::new(settings)));
}
