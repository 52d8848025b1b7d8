//! `[[hooks]]`: what the daemon runs or calls when a session event happens.

use crate::error::CoreError;
use clauderon_types::SessionStatus;
use serde::Deserialize;
use std::time::Duration;

/// The event kinds a hook may name (the `type` of a session event), besides `*` and
/// `status:<status>`.
pub const EVENT_KINDS: &[&str] = &[
    "created",
    "status-changed",
    "failed",
    "access-mode-changed",
    "process-ended",
    "host-allowed",
    "budget-set",
    "budget-exceeded",
    "containment-refused",
    "committed",
    "pushed",
    "pull-request-opened",
    "pull-request-changed",
    "archived",
    "unarchived",
    "deleted",
];

/// The default time a hook's command or one webhook attempt may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a hook does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookAction {
    /// `sh -c COMMAND`, the event as JSON on stdin.
    Command(String),
    /// A POST of the event to an HTTPS URL.
    Webhook { url: String, format: HookFormat, secret: Option<String> },
}

/// The body a webhook sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookFormat {
    /// The event as the API gives it.
    Json,
    /// Slack's incoming-webhook shape: `{"text": ...}`.
    Slack,
    /// ntfy's: a plain-text body with a `Title` header.
    Ntfy,
}

/// One configured hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub name: String,
    /// `*`, an event kind, or `status:<status>`.
    pub on: Vec<String>,
    /// A session name pattern (`*` matches any run of characters); every session when absent.
    pub session: Option<String>,
    pub action: HookAction,
    pub timeout: Duration,
}

impl Hook {
    /// Does this hook fire for an event of `kind` (with the status it changed to, if it is a
    /// status change) about the session `name`?
    pub fn matches(&self, kind: &str, to_status: Option<&str>, name: &str) -> bool {
        let on = self.on.iter().any(|o| {
            o == "*" || o == kind || to_status.is_some_and(|s| o.strip_prefix("status:") == Some(s))
        });
        on && self.session.as_deref().is_none_or(|p| glob(p, name))
    }
}

/// `*` matches any run of characters; everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else { return false };
            (0..=tail.len()).filter(|i| tail.is_char_boundary(*i)).any(|i| glob(rest, &tail[i..]))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHook {
    name: Option<String>,
    on: Option<Vec<String>>,
    session: Option<String>,
    command: Option<String>,
    url: Option<String>,
    format: Option<String>,
    secret: Option<String>,
    timeout_secs: Option<u64>,
}

pub(super) fn from_raw(raw: Vec<RawHook>) -> Result<Vec<Hook>, CoreError> {
    let mut hooks: Vec<Hook> = Vec::new();
    for (i, h) in raw.into_iter().enumerate() {
        let at = |what: &str| CoreError::Config(format!("hooks[{i}]: {what}"));
        let name = h.name.ok_or_else(|| at("give it a `name`"))?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(at(&format!("name `{name}`: use letters, digits, `-` and `_`")));
        }
        if hooks.iter().any(|o| o.name == name) {
            return Err(at(&format!("name `{name}` is used twice")));
        }
        let on = h.on.filter(|o| !o.is_empty()).ok_or_else(|| {
            at(&format!(
                "`{name}` needs `on`, e.g. on = [\"status:waiting-for-input\"] (or [\"*\"] for every event)"
            ))
        })?;
        for o in &on {
            let ok = o == "*"
                || EVENT_KINDS.contains(&o.as_str())
                || o.strip_prefix("status:").is_some_and(|s| SessionStatus::parse(s).is_some());
            if !ok {
                return Err(at(&format!(
                    "`{name}`: `{o}` is not an event: use `*`, `status:<status>` or one of {}",
                    EVENT_KINDS.join(", ")
                )));
            }
        }
        let action = match (h.command, h.url) {
            (Some(c), None) => {
                if h.format.is_some() || h.secret.is_some() {
                    return Err(at(&format!("`{name}`: `format` and `secret` are for webhooks (`url`)")));
                }
                HookAction::Command(c)
            }
            (None, Some(url)) => {
                if !url.starts_with("https://") {
                    return Err(at(&format!(
                        "`{name}`: the url must be https:// (it carries session events)"
                    )));
                }
                let format = match h.format.as_deref().unwrap_or("json") {
                    "json" => HookFormat::Json,
                    "slack" => HookFormat::Slack,
                    "ntfy" => HookFormat::Ntfy,
                    other => return Err(at(&format!("`{name}`: format `{other}`: use json, slack or ntfy"))),
                };
                HookAction::Webhook { url, format, secret: h.secret }
            }
            _ => return Err(at(&format!("`{name}` needs exactly one of `command` and `url`"))),
        };
        let timeout = match h.timeout_secs {
            None => DEFAULT_TIMEOUT,
            Some(s) if (1..=600).contains(&s) => Duration::from_secs(s),
            Some(s) => return Err(at(&format!("`{name}`: timeout_secs {s}: give 1 to 600"))),
        };
        hooks.push(Hook { name, on, session: h.session, action, timeout });
    }
    Ok(hooks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(on: &[&str], session: Option<&str>) -> Hook {
        Hook {
            name: "h".into(),
            on: on.iter().map(|s| s.to_string()).collect(),
            session: session.map(str::to_string),
            action: HookAction::Command("true".into()),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    #[test]
    fn a_hook_fires_on_its_kinds_statuses_and_sessions_only() {
        let h = hook(&["status:waiting-for-input", "created"], Some("fix-*"));
        assert!(h.matches("created", None, "fix-login"));
        assert!(h.matches("status-changed", Some("waiting-for-input"), "fix-1"));
        assert!(!h.matches("status-changed", Some("idle"), "fix-1"));
        assert!(!h.matches("created", None, "docs"));
        assert!(hook(&["*"], None).matches("deleted", None, "any"));
        assert!(glob("a*b*c", "aXXbYc") && !glob("a*b", "ab-c") && glob("*", ""));
    }

    #[test]
    fn bad_hooks_are_refused_with_what_to_do() {
        let raw = |t: &str| -> Vec<RawHook> {
            #[derive(Deserialize)]
            struct W {
                hooks: Vec<RawHook>,
            }
            toml::from_str::<W>(t).unwrap().hooks
        };
        for (toml, words) in [
            ("[[hooks]]\nname = \"a\"\non = [\"*\"]\n", "exactly one of"),
            ("[[hooks]]\nname = \"a\"\non = [\"nope\"]\ncommand = \"x\"\n", "is not an event"),
            ("[[hooks]]\nname = \"a\"\non = [\"*\"]\nurl = \"http://x\"\n", "https://"),
            ("[[hooks]]\nname = \"a\"\non = [\"*\"]\ncommand = \"x\"\nsecret = \"s\"\n", "for webhooks"),
            ("[[hooks]]\nname = \"a b\"\non = [\"*\"]\ncommand = \"x\"\n", "letters"),
            ("[[hooks]]\nname = \"a\"\ncommand = \"x\"\n", "needs `on`"),
        ] {
            let err = from_raw(raw(toml)).unwrap_err().to_string();
            assert!(err.contains(words), "{toml}: {err}");
        }
        let ok = from_raw(raw(
            "[[hooks]]\nname = \"slack\"\non = [\"status:waiting-for-input\"]\nurl = \"https://h\"\nformat = \"slack\"\nsecret = \"hook_secret\"\n",
        ))
        .unwrap();
        assert_eq!(
            ok[0].action,
            HookAction::Webhook {
                url: "https://h".into(),
                format: HookFormat::Slack,
                secret: Some("hook_secret".into())
            }
        );
    }
}
