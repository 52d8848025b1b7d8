//! A stand-in for GitHub's REST API (the real one is out of reach here): the few routes
//! `clauderon pr` calls, with their shapes and their refusals. A fake, and tests that use it
//! say so.
//!
//! - `GET /repos/{o}/{r}`: the repository and its default branch (404 for one not added);
//! - `POST /repos/{o}/{r}/pulls`: 201 with the new pull request; 422 when an open one has the
//!   same head, or the head branch is not in the git root's repository (as GitHub checks it);
//! - `GET /repos/{o}/{r}/pulls/{n}`, `.../reviews`, `GET /repos/{o}/{r}/commits/{sha}/check-runs`.
//!
//! The test changes what they answer with [`super::TlsUpstream::github`]'s methods (merge,
//! review, checks).

use super::Shared;
use super::body;
use super::routes::Req;
use hyper::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;

/// One pull request as the fake holds it.
#[derive(Debug, Clone)]
pub struct FakePull {
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head: String,
    pub head_sha: String,
    pub base: String,
    pub draft: bool,
    /// `open`, `closed`.
    pub state: String,
    pub merged: bool,
    /// (reviewer, `APPROVED` | `CHANGES_REQUESTED` | `COMMENTED`), oldest first.
    pub reviews: Vec<(String, String)>,
}

/// What the fake knows.
#[derive(Debug, Default)]
pub struct FakeGitHub {
    /// `owner/repo` to its default branch.
    pub repos: HashMap<String, String>,
    pub pulls: Vec<FakePull>,
    /// Commit id to its check runs: (status, conclusion).
    pub checks: HashMap<String, Vec<(String, Option<String>)>>,
}

fn pull_json(p: &FakePull) -> Value {
    json!({
        "number": p.number,
        "html_url": format!("https://github.com/{}/pull/{}", p.repo, p.number),
        "title": p.title,
        "body": p.body,
        "state": p.state,
        "draft": p.draft,
        "merged": p.merged,
        "merged_at": if p.merged { json!("2026-01-01T00:00:00Z") } else { Value::Null },
        "head": {"ref": p.head, "sha": p.head_sha},
        "base": {"ref": p.base},
    })
}

fn not_found() -> Response<body::RespBody> {
    body::json(StatusCode::NOT_FOUND, &json!({"message": "Not Found", "status": "404"}))
}

fn unprocessable(errors: Value) -> Response<body::RespBody> {
    body::json(StatusCode::UNPROCESSABLE_ENTITY, &json!({"message": "Validation Failed", "errors": errors}))
}

/// The head branch's commit in the git root's repository, as GitHub resolves `head`.
fn head_commit(shared: &Shared, repo: &str, branch: &str) -> Option<String> {
    let root = shared.git_root.as_ref()?;
    crate::git::git_in(
        &root.join(format!("{repo}.git")),
        &["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")],
    )
    .ok()
}

/// Answers a `/repos/...` request, or `None` for a path it does not serve.
pub(crate) fn route(shared: &Shared, req: &Req) -> Option<Response<body::RespBody>> {
    let path = req.parts.uri.path();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let get = req.parts.method == Method::GET;
    let mut gh = shared.github();
    let repo = format!("{}/{}", parts.get(1)?, parts.get(2)?);
    if !gh.repos.contains_key(&repo) {
        return Some(not_found());
    }
    let pull = |gh: &FakeGitHub, n: &str| {
        gh.pulls.iter().find(|p| p.repo == repo && p.number.to_string() == n).cloned()
    };
    Some(match (parts.as_slice(), get) {
        (["repos", _, _], true) => {
            body::json(StatusCode::OK, &json!({"full_name": repo, "default_branch": gh.repos[&repo]}))
        }
        (["repos", _, _, "pulls"], false) if req.parts.method == Method::POST => {
            let Ok(asked) = serde_json::from_slice::<Value>(&req.body) else {
                return Some(body::json(
                    StatusCode::BAD_REQUEST,
                    &json!({"message": "Problems parsing JSON"}),
                ));
            };
            let text = |k: &str| asked[k].as_str().unwrap_or_default().to_string();
            let (head, base, title) = (text("head"), text("base"), text("title"));
            if title.is_empty() {
                return Some(unprocessable(
                    json!([{"resource": "PullRequest", "field": "title", "code": "missing_field"}]),
                ));
            }
            if gh.pulls.iter().any(|p| p.repo == repo && p.head == head && p.state == "open") {
                let owner = parts[1];
                return Some(unprocessable(json!([{"resource": "PullRequest", "code": "custom",
                    "message": format!("A pull request already exists for {owner}:{head}.")}])));
            }
            let Some(head_sha) = head_commit(shared, &repo, &head) else {
                return Some(unprocessable(
                    json!([{"resource": "PullRequest", "field": "head", "code": "invalid"}]),
                ));
            };
            let number = gh.pulls.len() as u64 + 1;
            let p = FakePull {
                repo: repo.clone(),
                number,
                title,
                body: text("body"),
                head,
                head_sha,
                base,
                draft: asked["draft"].as_bool().unwrap_or(false),
                state: "open".into(),
                merged: false,
                reviews: Vec::new(),
            };
            let answer = pull_json(&p);
            gh.pulls.push(p);
            body::json(StatusCode::CREATED, &answer)
        }
        (["repos", _, _, "pulls", n], true) => match pull(&gh, n) {
            Some(p) => body::json(StatusCode::OK, &pull_json(&p)),
            None => not_found(),
        },
        (["repos", _, _, "pulls", n, "reviews"], true) => match pull(&gh, n) {
            Some(p) => {
                let reviews: Vec<Value> = p
                    .reviews
                    .iter()
                    .map(|(user, state)| json!({"user": {"login": user}, "state": state}))
                    .collect();
                body::json(StatusCode::OK, &Value::Array(reviews))
            }
            None => not_found(),
        },
        (["repos", _, _, "commits", sha, "check-runs"], true) => {
            let runs: Vec<Value> = gh
                .checks
                .get(*sha)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|(status, conclusion)| json!({"status": status, "conclusion": conclusion}))
                .collect();
            body::json(StatusCode::OK, &json!({"total_count": runs.len(), "check_runs": runs}))
        }
        _ => return None,
    })
}
