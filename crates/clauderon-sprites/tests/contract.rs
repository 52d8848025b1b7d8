//! The backend contract for Sprites, against a local STAND-IN of the Sprites API
//! (`clauderon_testkit::sprites_api`: each sprite a network namespace of this machine, commands
//! run over the documented exec protocol). Not the real service, which cannot be reached here.

use clauderon_backend::SessionBackend;
use clauderon_sprites::api::FixedToken;
use clauderon_sprites::{SpritesBackend, SpritesSettings};
use clauderon_testkit::sprites_api::FakeSprites;
use clauderon_testkit::stand_ins::WithStandIn;
use std::sync::Arc;

async fn make() -> Arc<dyn SessionBackend> {
    let fake = FakeSprites::start().await;
    let backend = SpritesBackend::new(SpritesSettings {
        api_url: fake.url.clone(),
        token: Arc::new(FixedToken(fake.token.clone())),
        extra_roots: Vec::new(),
        scope: "test-scope".into(),
        // The contract's sessions have no proxy (port 9, discard): the relay still has to come up.
        proxy_port: 9,
    });
    Arc::new(WithStandIn { backend, stand_in: Box::new(fake) })
}

clauderon_backend::backend_contract_tests!(make);
