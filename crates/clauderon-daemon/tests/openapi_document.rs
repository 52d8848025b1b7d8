//! The web UI's API types are generated from the daemon's OpenAPI document (issue 13): the
//! committed copy, `web/src/api/openapi.json`, must be the document this daemon serves, or the
//! UI's types (`web/src/api/schema.ts`, generated from it by `npm run gen:api`; scripts/test.sh
//! checks that step) would drift from the API.
//!
//! `CLAUDERON_UPDATE_OPENAPI=1 cargo nextest run -p clauderon-daemon --test openapi_document`
//! rewrites the copy; then `npm run gen:api` in `web/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_daemon::openapi::ApiDoc;
use std::path::Path;
use utoipa::OpenApi;

/// Every `$ref` names a schema the document holds: openapi-typescript refuses a dangling one
/// (`ListView` and `BucketWidth`, only named by query parameters, once were).
#[test]
fn every_reference_in_the_document_resolves() {
    let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    let dangling: Vec<&str> = text
        .split("\"#/components/schemas/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|name| !schemas.contains_key(*name))
        .collect();
    assert!(dangling.is_empty(), "references to schemas the document lacks: {dangling:?}");
}

#[test]
fn the_web_uis_copy_of_the_openapi_document_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/src/api/openapi.json");
    let current = format!("{}\n", serde_json::to_string_pretty(&ApiDoc::openapi()).unwrap());
    if std::env::var_os("CLAUDERON_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &current).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == current,
        "{} is stale: the API changed. Run `CLAUDERON_UPDATE_OPENAPI=1 cargo nextest run -p clauderon-daemon \
         --test openapi_document`, then `npm run gen:api` in web/, and commit both",
        path.display()
    );
}
