//! Session names: human-friendly, unique, and safe to use in a branch name,
//! a directory name and a URL path segment.

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

pub const MAX_NAME_LEN: usize = 63;

/// Why a name was refused. The message says what a valid name looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("session name is empty: use letters, digits and dashes, e.g. `fix-login`")]
    Empty,
    #[error("session name `{0}` is longer than {MAX_NAME_LEN} characters")]
    TooLong(String),
    #[error(
        "session name `{name}` contains `{bad}`: only letters, digits and dashes are allowed, e.g. `fix-login`"
    )]
    BadChar { name: String, bad: char },
    #[error("session name `{0}` must start and end with a letter or digit")]
    EdgeDash(String),
}

/// A validated session name: `[A-Za-z0-9-]{1,63}`, not starting or ending with a dash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
// Serialized as a newtype, which JSON writes as the bare string (no clone, unlike `into`).
#[serde(try_from = "String")]
#[schema(value_type = String, example = "brave-otter-3f2a")]
pub struct SessionName(String);

impl SessionName {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        if s.is_empty() {
            return Err(InvalidName::Empty);
        }
        if s.len() > MAX_NAME_LEN {
            return Err(InvalidName::TooLong(s.chars().take(MAX_NAME_LEN).collect()));
        }
        if let Some(bad) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(InvalidName::BadChar { name: s.to_string(), bad });
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(InvalidName::EdgeDash(s.to_string()));
        }
        Ok(SessionName(s.to_string()))
    }

    /// A fresh `adjective-animal-xxxx` name. Uniqueness is the caller's to check;
    /// the random suffix makes a clash rare.
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Self {
        const ADJECTIVES: &[&str] = &[
            "brave", "calm", "eager", "fair", "gentle", "happy", "jolly", "keen", "lively", "merry",
            "nimble", "proud", "quick", "quiet", "rapid", "sharp", "steady", "swift", "tidy", "witty",
        ];
        const ANIMALS: &[&str] = &[
            "otter", "falcon", "badger", "heron", "lynx", "marten", "osprey", "panda", "raven", "seal",
            "tapir", "viper", "walrus", "yak", "zebra", "koala", "ibis", "gecko", "finch", "crane",
        ];
        let adjective = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
        let animal = ANIMALS[rng.random_range(0..ANIMALS.len())];
        let suffix: u16 = rng.random();
        SessionName(format!("{adjective}-{animal}-{suffix:04x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SessionName {
    type Error = InvalidName;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SessionName::parse(&value)
    }
}

impl From<SessionName> for String {
    fn from(value: SessionName) -> Self {
        value.0
    }
}

impl fmt::Display for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SessionName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_path_traversal_and_separators() {
        for bad in ["../etc", "a/b", "a\\b", ".", "..", "a b", "naïve", "x;rm", "a\0b"] {
            assert!(SessionName::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn refuses_edges_and_length() {
        assert_eq!(SessionName::parse(""), Err(InvalidName::Empty));
        assert!(matches!(SessionName::parse("-a"), Err(InvalidName::EdgeDash(_))));
        assert!(matches!(SessionName::parse("a-"), Err(InvalidName::EdgeDash(_))));
        assert!(SessionName::parse(&"a".repeat(63)).is_ok());
        assert!(matches!(SessionName::parse(&"a".repeat(64)), Err(InvalidName::TooLong(_))));
    }

    #[test]
    fn json_refuses_invalid_names() {
        let err = serde_json::from_str::<SessionName>("\"../x\"").err().map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("only letters, digits and dashes"));
    }

    proptest! {
        #[test]
        fn generated_names_are_valid(seed: u64) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let name = SessionName::generate(&mut rng);
            prop_assert!(SessionName::parse(name.as_str()).is_ok());
        }

        #[test]
        fn accepted_names_use_only_the_safe_alphabet(s in "\\PC{0,70}") {
            if let Ok(name) = SessionName::parse(&s) {
                prop_assert!(name.as_str().chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
                prop_assert!(!name.as_str().starts_with('-'));
                prop_assert!(name.as_str().len() <= MAX_NAME_LEN);
            }
        }
    }
}
