//! GraphQL documents of read-only sessions: queries pass; a document with any mutation does
//! not, whichever operation `operationName` picks, and neither does a fragment on the mutation
//! root. A document that cannot be read is refused too: read-only must not guess.

use graphql_parser::query::{Definition, OperationDefinition, TypeCondition};
use serde_json::Value;

/// Check an HTTP request body: `{"query": …}` or a batch `[{"query": …}, …]`.
pub fn check_request_body(body: &[u8]) -> Result<(), String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        "a GraphQL request whose body is not JSON (it cannot be checked for mutations)".to_string()
    })?;
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
}
