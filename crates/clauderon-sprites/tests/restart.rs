//! A daemon that goes and comes back: the running sprite keeps running, loses its proxy while no
//! daemon holds the tunnel, and gets it back when the next daemon first looks at the session
//! (`status`, as reconcile does). Against the local stand-in of the Sprites API (not the real
//! service); an HTTP server on loopback stands for the proxy (`ok_http_server`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_backend::contract::Fixture;
use clauderon_backend::{BackendStatus, SessionBackend};
use clauderon_sprites::api::FixedToken;
use clauderon_sprites::{SpritesBackend, SpritesSettings};
use clauderon_testkit::sprites_api::FakeSprites;
use clauderon_testkit::stand_ins::{logs_until, ok_http_server};
use std::sync::Arc;

fn backend(fake: &FakeSprites, proxy_port: u16) -> SpritesBackend {
    SpritesBackend::new(SpritesSettings {
        api_url: fake.url.clone(),
        token: Arc::new(FixedToken(fake.token.clone())),
        extra_roots: Vec::new(),
        scope: "restart".into(),
        proxy_port,
    })
}

/// The session's screen once `want` says yes, or panic with it.
async fn screen_until(
    b: &SpritesBackend,
    h: &clauderon_backend::BackendHandle,
    want: impl Fn(&str) -> bool,
) -> String {
    let screen = logs_until(b, h, 400, 150, &want).await;
    assert!(want(&screen), "the screen never showed what was wanted: {screen}");
    screen
}

#[tokio::test]
async fn the_next_daemon_opens_the_tunnel_of_a_running_sprite_again() {
    let fake = FakeSprites::start().await;
    let port = ok_http_server().await;
    let mut f = Fixture::new("restart").unwrap();
    f.spec.proxy.port = port;
    f.spec.options.command = Some(
        "while true; do curl -s -m 2 -o /dev/null -w 'TRY=%{http_code}\\n' -x http://127.0.0.1:3128 http://upstream.test/; sleep 0.3; done"
            .into(),
    );
    let first = backend(&fake, port);
    let handle = first.create(&f.spec).await.unwrap();
    first.start(&handle).await.unwrap();
    screen_until(&first, &handle, |s| s.contains("TRY=200")).await;

    // The daemon goes: its tunnel with it. The agent keeps running, without a proxy.
    drop(first);
    let next = backend(&fake, port);
    let gone = screen_until(&next, &handle, |s| s.lines().last_non_empty() == Some("TRY=000")).await;
    assert!(gone.contains("TRY=200"), "{gone}");

    // The next daemon looks at the session: running, and its proxy is back.
    assert_eq!(next.status(&handle).await.unwrap(), BackendStatus::Running);
    screen_until(&next, &handle, |s| s.lines().last_non_empty() == Some("TRY=200")).await;
    next.delete(&handle).await.unwrap();
}

trait LastNonEmpty<'a> {
    fn last_non_empty(self) -> Option<&'a str>;
}

impl<'a, I: DoubleEndedIterator<Item = &'a str>> LastNonEmpty<'a> for I {
    fn last_non_empty(mut self) -> Option<&'a str> {
        self.rfind(|l| !l.trim().is_empty()).map(str::trim)
    }
}
