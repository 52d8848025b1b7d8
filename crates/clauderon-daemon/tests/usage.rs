//! Usage metering's daemon side: the writer prices and stores what the proxy metered, and
//! `GET /api/sessions/{name}/usage` reports it per model and over time.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_core::pricing::PriceTable;
use clauderon_daemon::usage_writer;
use clauderon_proxy::identity::SessionIdentity;
use clauderon_proxy::meter::UsageSink;
use clauderon_store::Store;
use clauderon_testkit::http::{Request, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use clauderon_types::SessionName;
use clauderon_types::usage::TokenUsage;
use serde_json::{Value, json};
use std::sync::Arc;

fn usage(model: &str, input: u64, output: u64) -> TokenUsage {
    TokenUsage {
        provider: "anthropic".into(),
        model: model.into(),
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
    }
}

async fn get(d: &TestDaemon, path: &str) -> (u16, Value) {
    let reply = unix(d.socket(), Request::new("GET", path)).await;
    let body = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    (reply.status, body)
}

fn close(v: &Value, want: f64) -> bool {
    v.as_f64().is_some_and(|v| (v - want).abs() < 1e-9)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_the_writer_stores_is_reported_per_model_and_over_time() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "metered"}).to_string();
    let created = unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().parse().unwrap();
    let (status, empty) = get(&d, "/api/sessions/metered/usage").await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!((empty["totals"].as_array().map(Vec::len), &empty["total_cost_usd"]), (Some(0), &Value::Null));

    // The writer shares the daemon's database file, as it does inside the daemon.
    let store = Arc::new(Store::open(&d.layout().database()).unwrap());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let (sink, task) = usage_writer::start(store, PriceTable::default(), shutdown);
    let who = SessionIdentity::agent(id, SessionName::parse("metered").unwrap());
    // Sonnet: $3 per million input tokens, $15 per million output tokens.
    sink.record(&who, usage("claude-sonnet-4-5", 1_000_000, 100_000));
    sink.record(&who, usage("claude-sonnet-4-5", 10, 5));
    sink.record(&who, usage("no-such-model", 7, 3));
    stop.send(true).unwrap();
    task.await.unwrap();

    let (status, r) = get(&d, "/api/sessions/metered/usage").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["session"], "metered");
    let totals = r["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 2, "{r}");
    let sonnet = &totals[0];
    assert_eq!(sonnet["model"], "claude-sonnet-4-5");
    assert_eq!((&sonnet["input_tokens"], &sonnet["output_tokens"]), (&json!(1_000_010), &json!(100_005)));
    assert_eq!(sonnet["requests"], 2);
    assert!(close(&sonnet["cost_usd"], 4.5 + 0.000105), "{sonnet}");
    assert_eq!(totals[1]["cost_usd"], Value::Null, "a model without a price has no cost");
    assert_eq!(r["total_tokens"], 1_000_010 + 100_005 + 10);
    assert!(close(&r["total_cost_usd"], 4.500105), "{r}");

    let series = r["series"].as_array().unwrap();
    assert!(series.iter().all(|b| b["width_seconds"] == 3600), "the default bucket is an hour: {r}");
    let sum = |key: &str| series.iter().map(|b| b[key].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("input_tokens"), sum("output_tokens")), (1_000_017, 100_008));
    let (_, by_minute) = get(&d, "/api/sessions/metered/usage?bucket=minute").await;
    assert!(by_minute["series"].as_array().unwrap().iter().all(|b| b["width_seconds"] == 60), "{by_minute}");

    let (status, bad) = get(&d, "/api/sessions/metered/usage?bucket=week").await;
    assert_eq!(status, 400, "{bad}");
    let (status, missing) = get(&d, "/api/sessions/nobody/usage").await;
    assert_eq!(status, 404, "{missing}");
    d.stop().await;
}
