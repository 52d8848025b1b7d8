//! GraphQL documents of read-only sessions: queries pass; a document with any mutation does
//! not, whichever operation `operationName` picks, and neither does a fragment on the mutation
//! root. A document that cannot be read is refused too: read-only must not guess — nor is a
//! body with a key twice in one object (`{"query": Q, "query": M}`: servers differ on which
//! one they run; serde_json, like many, would keep the last).

use graphql_parser::query::{Definition, OperationDefinition, TypeCondition};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Check an HTTP request body: `{"query": …}` or a batch `[{"query": …}, …]`.
pub fn check_request_body(body: &[u8]) -> Result<(), String> {
    let value = match serde_json::from_slice::<Unique>(body) {
        Ok(Unique(value)) => value,
        Err(e) if e.to_string().starts_with(DUPLICATE) => {
            return Err(
                "a GraphQL request with a key twice in one object (which one a server uses varies)".into()
            );
        }
        Err(_) => {
            return Err(
                "a GraphQL request whose body is not JSON (it cannot be checked for mutations)".into()
            );
        }
    };
    match &value {
        Value::Array(batch) if !batch.is_empty() => batch.iter().try_for_each(check_request),
        Value::Object(_) => check_request(&value),
        _ => Err("a GraphQL request that is neither a query object nor a batch of them".into()),
    }
}

fn check_request(request: &Value) -> Result<(), String> {
    match request.get("query").and_then(Value::as_str) {
        Some(doc) => check_document(doc),
        // Persisted queries name a stored document: its contents are unknown here.
        None => {
            Err("a GraphQL request without a query document (a persisted query cannot be checked)".into())
        }
    }
}

/// Whether `doc` is a GraphQL document at all.
pub fn parses(doc: &str) -> bool {
    graphql_parser::parse_query::<&str>(doc).is_ok()
}

/// The start of the error a duplicate key gives.
const DUPLICATE: &str = "duplicate key";

/// A JSON value read with every object's keys checked for duplicates, at any depth (escaped
/// spellings of a key, `"\u0071uery"`, count as the same key: they are decoded first).
struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUPLICATE} `{key}`")));
            }
            let Unique(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Check one GraphQL document.
pub fn check_document(doc: &str) -> Result<(), String> {
    let parsed = graphql_parser::parse_query::<&str>(doc).map_err(|_| {
        "a GraphQL document that does not parse (it cannot be checked for mutations)".to_string()
    })?;
    for definition in &parsed.definitions {
        match definition {
            Definition::Operation(OperationDefinition::Mutation(m)) => {
                return Err(match m.name {
                    Some(name) => format!("the GraphQL mutation `{name}`"),
                    None => "a GraphQL mutation".to_string(),
                });
            }
            Definition::Fragment(f) => {
                let TypeCondition::On(on) = f.type_condition;
                if on == "Mutation" {
                    return Err(format!("a GraphQL fragment on Mutation (`{}`)", f.name));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_pass() {
        assert_eq!(check_document("{ viewer { login } }"), Ok(()));
        assert_eq!(
            check_document(
                "query Q($n: Int) { repository(owner: \"o\", name: \"r\") { issues(first: $n) { totalCount } } }"
            ),
            Ok(())
        );
        assert_eq!(
            check_request_body(br#"{"query": "query { viewer { login } }", "variables": {}}"#),
            Ok(())
        );
    }

    #[test]
    fn mutations_are_refused_however_they_hide() {
        let cases = [
            r#"{"query": "mutation { addStar(input: {starrableId: \"x\"}) { clientMutationId } }"}"#,
            // operationName picks the query, but the document also holds a mutation.
            r#"{"query": "query Safe { viewer { login } } mutation Evil { deleteRepository(input: {}) { clientMutationId } }", "operationName": "Safe"}"#,
            // A fragment on the mutation root, spread from a mutation.
            r#"{"query": "mutation { ...M } fragment M on Mutation { addStar(input: {}) { clientMutationId } }"}"#,
            // A fragment on Mutation alone.
            r#"{"query": "query { viewer { login } } fragment M on Mutation { addStar(input: {}) { clientMutationId } }"}"#,
            // One bad request in a batch.
            r#"[{"query": "{ viewer { login } }"}, {"query": "mutation { x }"}]"#,
            // Unreadable or uncheckable.
            r#"{"query": "mutation {"}"#,
            r#"{"extensions": {"persistedQuery": {"sha256Hash": "abc"}}}"#,
            // The same key twice (issue 11, item 7): the check would read one, a server the other.
            r#"{"query": "{ viewer { login } }", "query": "mutation { x }"}"#,
            r#"{"query": "mutation { x }", "query": "{ viewer { login } }"}"#,
            r#"{"query": "{ viewer { login } }", "\u0071uery": "mutation { x }"}"#,
            r#"[{"query": "{ a }"}, {"query": "{ b }", "variables": {"v": 1, "v": 2}}]"#,
            // Batches: every element is checked, and must be a request object.
            r#"[{"query": "{ viewer { login } }"}, "mutation { x }"]"#,
            r#"[[{"query": "mutation { x }"}]]"#,
            r#"{"query": {"text": "mutation { x }"}}"#,
            "{\"query\": \"{ a }\"} trailing",
            "not json",
            "[]",
        ];
        for body in cases {
            assert!(check_request_body(body.as_bytes()).is_err(), "{body}");
        }
        assert_eq!(
            check_request_body(br#"{"query": "mutation Evil { x }"}"#),
            Err("the GraphQL mutation `Evil`".into())
        );
    }

    #[test]
    fn batches_of_queries_and_nested_values_pass() {
        assert_eq!(
            check_request_body(
                br#"[{"query": "{ a }"}, {"query": "{ b }", "variables": {"x": [1, {"y": null}]}}]"#
            ),
            Ok(())
        );
        assert!(parses("{ a }") && !parses("cats and dogs"));
    }

    /// `mutation` is not a keyword where a name goes: `query mutation { … }` is a query named
    /// "mutation", and a server runs it as one (its fields are looked up on the query root).
    /// The graphql_git fuzz target first took it for a mutation let through (issue 12).
    #[test]
    fn a_query_named_mutation_is_a_query() {
        assert_eq!(check_document("query\nmutation { addStar(input: {}) { clientMutationId } }"), Ok(()));
        assert!(check_document("query q { a }\nmutation { addStar }").is_err());
    }

    /// A session may send `MAX_POLICY_BODY` of document nested 100,000 deep: a parser that
    /// recursed that far would overflow a 2 MiB tokio worker's stack, which aborts the whole
    /// daemon. graphql-parser's nesting limit refuses it first; this pins that (issue 12).
    #[test]
    fn a_deeply_nested_document_is_refused_without_overflowing_the_stack() {
        let depth = 100_000;
        let doc = format!("{}{}", "{ a ".repeat(depth), "}".repeat(depth));
        let get = format!("[{}]", "{ a(x: ".repeat(depth));
        let body = serde_json::json!({ "query": doc }).to_string();
        let checks = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || (check_document(&doc), check_request_body(body.as_bytes()), parses(&get)))
            .unwrap()
            .join()
            .unwrap();
        assert!(checks.0.is_err() && checks.1.is_err() && !checks.2, "{checks:?}");
    }
}
