//! GitHub's REST API as the daemon speaks it for `clauderon pr`: through its own proxy, with a
//! shipping identity that reaches `api.github.com` only, trusting only clauderon's CA. The
//! request carries no credential; the proxy puts the token on it, as for sessions.

use crate::error::CoreError;
use bytes::Bytes;
use chrono::Utc;
use clauderon_types::ship::{CheckSummary, PrState, PullRequest, ReviewDecision};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// The API's host: what the shipping identity is made for.
pub const API_HOST: &str = "api.github.com";

/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 4 << 20;
/// One request's bound.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

type Connector = hyper_rustls::HttpsConnector<Tunnel<HttpConnector>>;

/// A client of GitHub's API through the proxy at `127.0.0.1:port`.
pub struct GitHub {
    client: Client<Connector, Full<Bytes>>,
}

/// `owner/repo` from an HTTPS origin on github.com (`https://github.com/o/r.git`), or `None`
/// for any other host or shape.
pub fn repo_of(url: &str, host: &str) -> Option<String> {
    if host != "github.com" {
        return None;
    }
    let path = url.strip_prefix("https://github.com/")?;
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, repo) = path.split_once('/')?;
    let ok = |s: &str| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    (ok(owner) && ok(repo) && repo != "." && repo != "..").then(|| format!("{owner}/{repo}"))
}

impl GitHub {
    /// Through the proxy on loopback `port`, as `user:secret`, trusting the CA in `ca_cert`.
    pub fn new(port: u16, user: &str, secret: &str, ca_cert: &Path) -> Result<GitHub, CoreError> {
        use base64::Engine;
        use rustls_pki_types::pem::PemObject;
        let internal = |what: &str, e: &dyn std::fmt::Display| CoreError::Internal(format!("{what}: {e}"));
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca_cert)
            .map_err(|e| internal("reading clauderon's CA", &e))?
        {
            roots
                .add(cert.map_err(|e| internal("reading clauderon's CA", &e))?)
                .map_err(|e| internal("clauderon's CA", &e))?;
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| internal("TLS settings", &e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let proxy: Uri =
            format!("http://127.0.0.1:{port}").parse().map_err(|e| internal("proxy address", &e))?;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
        let mut auth =
            HeaderValue::from_str(&format!("Basic {auth}")).map_err(|e| internal("proxy identity", &e))?;
        auth.set_sensitive(true);
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let tunnel = Tunnel::new(proxy, http).with_auth(auth);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector(tunnel);
        Ok(GitHub { client: Client::builder(TokioExecutor::new()).build(https) })
    }

    /// One API call; the answer's status and JSON (`Null` for an empty body).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), CoreError> {
        let unreachable = |e: &dyn std::fmt::Display| {
            CoreError::Git(format!(
                "GitHub's API ({API_HOST}) could not be reached through clauderon's proxy: {e}"
            ))
        };
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(format!("https://{API_HOST}{path}"))
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header("user-agent", concat!("clauderon/", env!("CARGO_PKG_VERSION")))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(payload)))
            .map_err(|e| CoreError::Internal(format!("building a GitHub request: {e}")))?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| unreachable(&e))?;
            let status = resp.status();
            let bytes = Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| unreachable(&e))?
                .to_bytes();
            let value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or(Value::Null)
            };
            Ok::<_, CoreError>((status, value))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| unreachable(&format!("no answer in {} s", REQUEST_TIMEOUT.as_secs())))?
    }

    /// `call`, with every answer but 2xx turned into an error that says what to do.
    async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        doing: &str,
    ) -> Result<Value, CoreError> {
        let (status, value) = self.call(method, path, body).await?;
        if status.is_success() {
            return Ok(value);
        }
        Err(api_error(status, &value, doing))
    }

    /// The repository's default branch.
    pub async fn default_branch(&self, repo: &str) -> Result<String, CoreError> {
        let value = self.ok(Method::GET, &format!("/repos/{repo}"), None, &format!("reading {repo}")).await?;
        value["default_branch"].as_str().map(str::to_string).ok_or_else(|| {
            CoreError::Git(format!("GitHub did not say {repo}'s default branch: pass --base BRANCH"))
        })
    }

    /// Open a pull request of `head` into `base`.
    pub async fn create_pr(
        &self,
        repo: &str,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
        draft: bool,
    ) -> Result<PullRequest, CoreError> {
        let payload = json!({"title": title, "head": head, "base": base, "body": body, "draft": draft});
        let value = self
            .ok(
                Method::POST,
                &format!("/repos/{repo}/pulls"),
                Some(payload),
                &format!("opening a pull request on {repo}"),
            )
            .await?;
        let number = value["number"]
            .as_u64()
            .ok_or_else(|| CoreError::Git("GitHub's answer to the new pull request has no number".into()))?;
        self.read_pr(repo, number).await
    }

    /// A pull request as it stands: state, review decision, checks on its head commit.
    pub async fn read_pr(&self, repo: &str, number: u64) -> Result<PullRequest, CoreError> {
        let doing = format!("reading pull request #{number} of {repo}");
        let pr = self.ok(Method::GET, &format!("/repos/{repo}/pulls/{number}"), None, &doing).await?;
        let state = match (
            pr["state"].as_str(),
            pr["merged"].as_bool().unwrap_or(false) || !pr["merged_at"].is_null(),
        ) {
            (_, true) => PrState::Merged,
            (Some("open"), _) => PrState::Open,
            _ => PrState::Closed,
        };
        let reviews = self
            .ok(Method::GET, &format!("/repos/{repo}/pulls/{number}/reviews?per_page=100"), None, &doing)
            .await?;
        let checks = match pr["head"]["sha"].as_str() {
            Some(sha) if sha.chars().all(|c| c.is_ascii_hexdigit()) => {
                let runs = self
                    .ok(
                        Method::GET,
                        &format!("/repos/{repo}/commits/{sha}/check-runs?per_page=100"),
                        None,
                        &doing,
                    )
                    .await?;
                check_summary(&runs)
            }
            _ => CheckSummary::default(),
        };
        Ok(PullRequest {
            number,
            url: pr["html_url"].as_str().unwrap_or_default().to_string(),
            repo: repo.to_string(),
            base: pr["base"]["ref"].as_str().unwrap_or_default().to_string(),
            state,
            draft: pr["draft"].as_bool().unwrap_or(false),
            review: review_decision(&reviews),
            checks,
            refreshed_at: Utc::now(),
        })
    }
}

/// An API refusal in words: what failed, GitHub's own message, and what to do.
fn api_error(status: StatusCode, value: &Value, doing: &str) -> CoreError {
    let mut said = value["message"].as_str().unwrap_or("").to_string();
    if let Some(errors) = value["errors"].as_array() {
        let details: Vec<&str> = errors.iter().filter_map(|e| e["message"].as_str()).collect();
        if !details.is_empty() {
            said = format!("{said} ({})", details.join("; "));
        }
    }
    let said = said.chars().filter(|c| !c.is_control()).take(500).collect::<String>();
    match status.as_u16() {
        401 => CoreError::Unavailable(format!(
            "{doing}: GitHub refused the credential (401 {said}): configure a GitHub token for clauderon \
             (GH_TOKEN, or `github_token` in the config; `clauderon credentials` shows what is set)"
        )),
        403 | 404 => CoreError::Git(format!(
            "{doing}: GitHub answered {status} ({said}): the repository may not exist, or the token clauderon holds \
             lacks access to it"
        )),
        422 => CoreError::Conflict(format!("{doing}: GitHub refused it (422 {said})")),
        _ => CoreError::Git(format!("{doing}: GitHub answered {status} {said}")),
    }
}

/// From each reviewer's latest approving or change-requesting review.
fn review_decision(reviews: &Value) -> ReviewDecision {
    let mut latest: HashMap<&str, &str> = HashMap::new();
    for review in reviews.as_array().map(Vec::as_slice).unwrap_or_default() {
        let (Some(user), Some(state)) = (review["user"]["login"].as_str(), review["state"].as_str()) else {
            continue;
        };
        match state {
            "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED" => {
                latest.insert(user, state);
            }
            _ => {}
        }
    }
    if latest.values().any(|s| *s == "CHANGES_REQUESTED") {
        ReviewDecision::ChangesRequested
    } else if latest.values().any(|s| *s == "APPROVED") {
        ReviewDecision::Approved
    } else {
        ReviewDecision::None
    }
}

fn check_summary(runs: &Value) -> CheckSummary {
    let mut summary = CheckSummary::default();
    for run in runs["check_runs"].as_array().map(Vec::as_slice).unwrap_or_default() {
        summary.total += 1;
        if run["status"].as_str() != Some("completed") {
            summary.pending += 1;
            continue;
        }
        match run["conclusion"].as_str() {
            Some("success" | "neutral" | "skipped") => summary.passed += 1,
            _ => summary.failed += 1,
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_github_com_repositories_are_named() {
        assert_eq!(
            repo_of("https://github.com/acme/widgets.git", "github.com").as_deref(),
            Some("acme/widgets")
        );
        assert_eq!(repo_of("https://github.com/acme/widgets", "github.com").as_deref(), Some("acme/widgets"));
        for (url, host) in [
            ("https://gitlab.com/acme/widgets.git", "gitlab.com"),
            ("https://github.com/acme", "github.com"),
            ("https://github.com/acme/widgets/extra", "github.com"),
            ("https://github.com/acme/..", "github.com"),
            ("https://github.com:8443/acme/widgets", "github.com"),
        ] {
            assert_eq!(repo_of(url, host), None, "{url}");
        }
    }

    #[test]
    fn the_latest_decisive_review_of_each_reviewer_counts() {
        let reviews = json!([
            {"user": {"login": "a"}, "state": "CHANGES_REQUESTED"},
            {"user": {"login": "b"}, "state": "APPROVED"},
            {"user": {"login": "a"}, "state": "COMMENTED"},
        ]);
        assert_eq!(review_decision(&reviews), ReviewDecision::ChangesRequested);
        let reviews = json!([
            {"user": {"login": "a"}, "state": "CHANGES_REQUESTED"},
            {"user": {"login": "a"}, "state": "APPROVED"},
        ]);
        assert_eq!(review_decision(&reviews), ReviewDecision::Approved);
        assert_eq!(review_decision(&json!([])), ReviewDecision::None);
    }

    #[test]
    fn checks_are_counted_by_conclusion() {
        let runs = json!({"check_runs": [
            {"status": "completed", "conclusion": "success"},
            {"status": "completed", "conclusion": "skipped"},
            {"status": "completed", "conclusion": "failure"},
            {"status": "in_progress", "conclusion": null},
        ]});
        assert_eq!(check_summary(&runs), CheckSummary { total: 4, passed: 2, failed: 1, pending: 1 });
    }
}
