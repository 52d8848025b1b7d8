//! The small closed sets a session is made of: backend, agent, access mode.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{given}`: expected one of {expected}")]
pub struct ParseKindError {
    pub what: &'static str,
    pub given: String,
    pub expected: String,
}

macro_rules! kind_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        // By hand: utoipa's derive does not see a `serde(rename)` made by a macro, and described
        // these as `ReadOnly`, `Zellij`… while the API says `read-only`, `zellij` (issue 13:
        // the web UI's generated types showed it).
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseKindError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ParseKindError {
                        what: $what,
                        given: s.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

kind_enum!(
    /// Where a session runs.
    BackendKind, "backend", {
        Zellij => "zellij",
        Docker => "docker",
        AppleContainer => "apple-container",
        Kubernetes => "kubernetes",
        Sprites => "sprites",
    }
);

kind_enum!(
    /// Which coding agent a session runs.
    AgentKind, "agent", {
        Claude => "claude",
        Codex => "codex",
        Gemini => "gemini",
    }
);

kind_enum!(
    /// What a session may do with the credentials it never sees.
    AccessMode, "access mode", {
        ReadOnly => "read-only",
        ReadWrite => "read-write",
    }
);

kind_enum!(
    /// How a container session reaches the network (Docker).
    NetworkMode, "network mode", {
        /// The container's own network; it reaches the proxy through the host gateway.
        Open => "open",
        /// The proxy is the only address the container can reach.
        Locked => "locked",
    }
);

kind_enum!(
    /// How much of the host a host-side session (Zellij) is kept from, with bubblewrap.
    SandboxLevel, "sandbox level", {
        /// No sandbox: the host's files and network, only the environment is clean.
        Off => "off",
        /// The worktree read-write, the rest read-only, the user's secret places hidden.
        Fs => "fs",
        /// `fs` plus a network namespace whose only way out is the proxy.
        Full => "full",
    }
);

// Written out because the enums come from a macro that cannot place `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for AgentKind {
    fn default() -> Self {
        AgentKind::Claude
    }
}

#[allow(clippy::derivable_impls)]
impl Default for AccessMode {
    /// Read-only is the safe default: a session asks for writes explicitly.
    fn default() -> Self {
        AccessMode::ReadOnly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The OpenAPI document names the values serde writes (issue 13).
    #[test]
    fn the_schema_lists_the_names_the_api_uses() {
        let schema = |s: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
            serde_json::to_value(s).unwrap_or_default()["enum"].clone()
        };
        use utoipa::PartialSchema;
        assert_eq!(schema(AccessMode::schema()), serde_json::json!(["read-only", "read-write"]));
        assert_eq!(
            schema(BackendKind::schema()),
            serde_json::json!(["zellij", "docker", "apple-container", "kubernetes", "sprites"])
        );
        assert_eq!(serde_json::to_value(AccessMode::ReadWrite).unwrap_or_default(), "read-write");
        assert_eq!(<AgentKind as utoipa::ToSchema>::name(), "AgentKind");
    }

    #[test]
    fn round_trips_text_and_json() {
        for k in BackendKind::ALL {
            assert_eq!(k.as_str().parse::<BackendKind>().ok(), Some(*k));
            let json = serde_json::to_string(k).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        assert_eq!("read-write".parse::<AccessMode>().ok(), Some(AccessMode::ReadWrite));
    }

    #[test]
    fn unknown_kind_lists_choices() {
        let err = "podman".parse::<BackendKind>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "unknown backend `podman`: expected one of zellij, docker, apple-container, kubernetes, sprites"
            )
        );
    }
}
