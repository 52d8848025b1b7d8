//! What the Sprites backend says when it cannot work, against the local stand-in of the API
//! (not the real service): no token (and nothing sent), a token the API refuses, an API that
//! does not answer. The token is in none of the messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use clauderon_backend::contract::Fixture;
use clauderon_backend::{BackendError, SessionBackend};
use clauderon_sprites::api::{FixedToken, TokenSource};
use clauderon_sprites::{SpritesBackend, SpritesSettings};
use clauderon_testkit::sprites_api::FakeSprites;
use std::sync::Arc;

struct NoToken;

#[async_trait]
impl TokenSource for NoToken {
    async fn token(&self) -> Result<String, String> {
        Err("set SPRITES_TOKEN in the daemon's environment".into())
    }
}

fn backend(url: &str, token: Arc<dyn TokenSource>) -> SpritesBackend {
    SpritesBackend::new(SpritesSettings {
        api_url: url.into(),
        token,
        extra_roots: Vec::new(),
        scope: "errors".into(),
        proxy_port: 9,
    })
}

#[tokio::test]
async fn without_a_token_nothing_is_sent_and_the_error_says_where_to_put_one() {
    let fake = FakeSprites::start().await;
    let b = backend(&fake.url, Arc::new(NoToken));
    let err = b.create(&Fixture::new("notoken").unwrap().spec).await.unwrap_err();
    assert!(matches!(err, BackendError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("SPRITES_TOKEN"), "{err}");
    assert!(matches!(b.check().await, Err(BackendError::Unavailable { .. })));
    assert!(fake.requests().is_empty(), "a request went out without a token: {:?}", fake.requests());
}

#[tokio::test]
async fn a_refused_token_is_named_as_such_and_never_shown() {
    let fake = FakeSprites::start().await;
    let wrong = "sprites-token-WRONG-0b1c";
    let b = backend(&fake.url, Arc::new(FixedToken(wrong.into())));
    let err = b.create(&Fixture::new("badtoken").unwrap().spec).await.unwrap_err().to_string();
    assert!(err.contains("refused the token") && err.contains("sprites.dev/account"), "{err}");
    assert!(!err.contains(wrong), "{err}");
    let check = b.check().await.unwrap_err().to_string();
    assert!(!check.contains(wrong), "{check}");
}

#[tokio::test]
async fn an_api_that_does_not_answer_is_named_with_its_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let b = backend(&url, Arc::new(FixedToken("t".into())));
    let err = b.check().await.unwrap_err();
    assert!(matches!(err, BackendError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test]
async fn a_url_that_is_not_one_is_refused_in_words() {
    let b = backend("api.sprites.dev", Arc::new(FixedToken("t".into())));
    let err = b.check().await.unwrap_err().to_string();
    assert!(err.contains("https://"), "{err}");
}
