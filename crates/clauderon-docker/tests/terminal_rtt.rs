//! Keystroke to echo on a Docker session's terminal (`exec cat`, the container's tty echoes),
//! measured in real Chromium on the daemon's WebSocket beside the client `clauderon attach`
//! uses, alternating batches of 20 in one run: the browser figure of issue 13 for a backend
//! whose terminal is a direct stream (the engine's attach). BENCHMARKS.md "Terminal round trip".

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_testkit::browser::Driver;
use clauderon_testkit::terminal_rtt as rtt;
use std::time::Duration;
use support::daemon_fixture::fixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for BENCHMARKS.md"]
async fn docker_terminal_round_trip() {
    let fx = fixture().await;
    fx.create("rtt", "exec cat", "locked").await;
    let name = fx.n("rtt");
    let mut b = Driver::open(Duration::from_secs(60)).await;
    b.sign_in(&format!("http://{}", fx.daemon.http_addr), fx.daemon.api_token.expose()).await;
    let client = clauderon_client::Client::new(clauderon_client::Endpoint::Unix(fx.daemon.socket.clone()));
    let script = rtt::page_script();
    let (mut page, mut cli) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let v = b.eval(&format!("({script})('{name}', 20)")).await;
        page.extend(v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()));
        cli.extend(rtt::client_round_trips(&client, &name, 20).await);
    }
    let in_page = rtt::summary("browser (Chromium, WebSocket over TCP)", page);
    let attach = rtt::summary("clauderon attach's client (Unix socket)", cli);
    println!("browser / attach: {:.2}x", in_page / attach);
    b.close().await;
}
