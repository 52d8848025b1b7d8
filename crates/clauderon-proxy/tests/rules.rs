#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Injection rules from the outside: what each host's request carries after injection.

use base64::Engine;
use clauderon_proxy::credentials::Secret;
use clauderon_proxy::rules::{RuleSet, UserRuleConfig, builtin_rules};
use http::{HeaderMap, HeaderValue};

/// What the proxy does: the first candidate whose credential is configured is applied.
/// Returns the rule's name, or `None` when no rule applied.
fn inject(
    rules: &RuleSet,
    host: &str,
    configured: &[(&str, &str)],
    headers: &mut HeaderMap,
) -> Option<String> {
    for rule in rules.candidates(host) {
        if let Some((_, value)) = configured.iter().find(|(name, _)| *name == rule.credential) {
            rule.apply(headers, &Secret::new(*value)).unwrap();
            return Some(rule.name.clone());
        }
    }
    None
}

fn placeholders() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.append("authorization", HeaderValue::from_static("Bearer placeholder"));
    headers.append("authorization", HeaderValue::from_static("Bearer placeholder-2"));
    headers.insert("x-api-key", HeaderValue::from_static("placeholder"));
    headers.insert("x-goog-api-key", HeaderValue::from_static("placeholder"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers
}

fn values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers.get_all(name).iter().map(|v| v.to_str().unwrap()).collect()
}

const ALL: &[(&str, &str)] = &[
    ("anthropic_api_key", "sk-ant-real"),
    ("openai_api_key", "sk-openai-real"),
    ("gemini_api_key", "gemini-real"),
    ("github_token", "ghp_real"),
];

#[test]
fn each_builtin_host_gets_its_header_and_only_that() {
    let rules = RuleSet::new(builtin_rules(), vec![]);
    let cases = [
        ("api.anthropic.com", "anthropic", "x-api-key", "sk-ant-real"),
        ("api.openai.com", "openai", "authorization", "Bearer sk-openai-real"),
        ("generativelanguage.googleapis.com", "gemini", "x-goog-api-key", "gemini-real"),
        ("api.github.com", "github-api", "authorization", "Bearer ghp_real"),
    ];
    for (host, rule, header, expected) in cases {
        let mut headers = placeholders();
        assert_eq!(inject(&rules, host, ALL, &mut headers).as_deref(), Some(rule), "{host}");
        assert_eq!(values(&headers, header), [expected], "{host}");
        assert!(headers.get(header).unwrap().is_sensitive(), "{host}");
        // Every other placeholder is gone, nothing else was touched.
        for other in ["authorization", "x-api-key", "x-goog-api-key"].into_iter().filter(|h| *h != header) {
            assert!(headers.get(other).is_none(), "{host}: {other} left");
        }
        assert_eq!(values(&headers, "content-type"), ["application/json"]);
        assert!(headers.get("anthropic-beta").is_none());
        assert!(rules.needs_interception(host));
    }
}

#[test]
fn git_over_https_on_github_gets_basic_auth_with_the_token() {
    let rules = RuleSet::new(builtin_rules(), vec![]);
    let mut headers = placeholders();
    assert_eq!(inject(&rules, "github.com", ALL, &mut headers).as_deref(), Some("github-git"));
    let value = values(&headers, "authorization");
    let encoded = value[0].strip_prefix("Basic ").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
    assert_eq!(decoded, b"x-access-token:ghp_real");
}

#[test]
fn an_anthropic_oauth_token_wins_over_the_api_key_and_brings_its_beta_header() {
    let rules = RuleSet::new(builtin_rules(), vec![]);
    let names: Vec<&str> = rules.candidates("api.anthropic.com").iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["anthropic-oauth", "anthropic"]);

    let both = [("anthropic_oauth_token", "oat-real"), ("anthropic_api_key", "sk-ant-real")];
    let mut headers = placeholders();
    headers.insert("anthropic-beta", HeaderValue::from_static("claude-code-20250219"));
    assert_eq!(inject(&rules, "api.anthropic.com", &both, &mut headers).as_deref(), Some("anthropic-oauth"));
    assert_eq!(values(&headers, "authorization"), ["Bearer oat-real"]);
    assert!(headers.get("x-api-key").is_none(), "the API key placeholder must not reach Anthropic");
    assert_eq!(values(&headers, "anthropic-beta"), ["claude-code-20250219,oauth-2025-04-20"]);

    // Already listed: not repeated.
    let mut headers = HeaderMap::new();
    headers.insert("anthropic-beta", HeaderValue::from_static("oauth-2025-04-20, other"));
    inject(&rules, "api.anthropic.com", &both, &mut headers);
    assert_eq!(values(&headers, "anthropic-beta"), ["oauth-2025-04-20, other"]);
}

#[test]
fn other_hosts_get_nothing_however_they_are_spelled() {
    let rules = RuleSet::new(builtin_rules(), vec![]);
    for host in [
        "example.com",
        "anthropic.com",
        "api.anthropic.com.evil.net",
        "evilgithub.com",
        "gist.github.com",
        "api.openai.com:443",
        "127.0.0.1",
        "",
    ] {
        assert!(rules.candidates(host).is_empty(), "{host}");
        assert!(!rules.needs_interception(host), "{host}");
        let mut headers = placeholders();
        assert_eq!(inject(&rules, host, ALL, &mut headers), None);
        assert_eq!(headers, placeholders());
    }
    assert!(rules.needs_interception("API.Anthropic.COM"));
}

fn user_rule(json: serde_json::Value) -> clauderon_proxy::rules::InjectionRule {
    serde_json::from_value::<UserRuleConfig>(json).unwrap().validate().unwrap()
}

#[test]
fn user_rules_match_wildcards_and_come_before_builtins() {
    let corp = user_rule(serde_json::json!({
        "name": "corp", "host": "*.corp.example", "header": "X-Corp-Token",
        "template": "Token {}", "credential": "corp_token",
    }));
    let openai = user_rule(serde_json::json!({
        "name": "openai-gateway", "host": "api.openai.com", "header": "authorization",
        "template": "Bearer {}", "credential": "openai_gateway_key",
    }));
    let registry = user_rule(serde_json::json!({
        "name": "registry", "host": "registry.corp.example", "header": "authorization",
        "template": "Basic {}", "credential": "registry_password", "basic_auth_username": "ci",
    }));
    let rules = RuleSet::new(builtin_rules(), vec![corp, openai, registry]);
    let configured =
        [("corp_token", "corp-real"), ("openai_gateway_key", "gw-real"), ("registry_password", "pw")];

    let mut headers = placeholders();
    assert_eq!(inject(&rules, "build.ci.corp.example", &configured, &mut headers).as_deref(), Some("corp"));
    assert_eq!(values(&headers, "x-corp-token"), ["Token corp-real"]);
    assert!(rules.candidates("corp.example").is_empty(), "a wildcard does not cover the apex");

    let names: Vec<&str> = rules.candidates("api.openai.com").iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["openai-gateway", "openai"]);
    let mut headers = placeholders();
    assert_eq!(
        inject(&rules, "api.openai.com", &configured, &mut headers).as_deref(),
        Some("openai-gateway")
    );
    assert_eq!(values(&headers, "authorization"), ["Bearer gw-real"]);

    let names: Vec<&str> =
        rules.candidates("registry.corp.example").iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["corp", "registry"], "user rules keep their written order");
    let registry = rules.candidates("registry.corp.example")[1];
    let mut headers = HeaderMap::new();
    registry.apply(&mut headers, &Secret::new("pw")).unwrap();
    assert_eq!(
        values(&headers, "authorization"),
        [format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ci:pw"))]
    );
}

#[test]
fn a_secret_with_a_line_break_is_refused_without_being_echoed() {
    let rules = RuleSet::new(builtin_rules(), vec![]);
    for bad in ["sk-live-123\r\nX-Evil: 1", "sk-live-123\n", "sk-live-123\0", "sk-live-123\u{e9}"] {
        for rule in rules.rules() {
            let mut headers = placeholders();
            let err = rule.apply(&mut headers, &Secret::new(bad)).unwrap_err();
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(!shown.contains("sk-live-123"), "{shown}");
                assert!(shown.contains(&rule.credential), "{shown}");
            }
            assert_eq!(headers, placeholders(), "{}: headers changed on error", rule.name);
        }
    }
}

#[test]
fn user_rule_config_refuses_unknown_fields() {
    let err = serde_json::from_value::<UserRuleConfig>(serde_json::json!({
        "name": "x", "host": "x.example", "header": "authorization", "template": "{}",
        "credential": "x", "username": "typo",
    }))
    .unwrap_err();
    assert!(err.to_string().contains("unknown field `username`"), "{err}");
}
