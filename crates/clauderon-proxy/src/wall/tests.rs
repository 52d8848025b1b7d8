//! The address wall's classifier and decisions, without sockets but the resolver's.

use super::*;
use crate::policy::{PolicyDecision, PolicyRequest};
use clauderon_types::{SessionId, SessionName};
use std::collections::HashMap;

#[test]
fn the_classifier_knows_every_kind_of_non_public_address() {
    let table: &[(&str, Option<&str>)] = &[
        ("127.0.0.1", Some("a loopback address")),
        ("127.255.1.2", Some("a loopback address")),
        ("0.0.0.0", Some("an unspecified address")),
        ("0.1.2.3", Some("an unspecified address")),
        ("10.1.2.3", Some("a private address")),
        ("172.16.0.1", Some("a private address")),
        ("172.31.255.254", Some("a private address")),
        ("192.168.1.1", Some("a private address")),
        ("169.254.169.254", Some("a link-local address")),
        ("100.64.0.1", Some("a shared (CGNAT) address")),
        ("100.127.255.254", Some("a shared (CGNAT) address")),
        ("224.0.0.1", Some("a multicast address")),
        ("255.255.255.255", Some("the broadcast address")),
        ("240.0.0.1", Some("a reserved address")),
        ("::1", Some("a loopback address")),
        ("::", Some("an unspecified address")),
        ("fe80::1", Some("a link-local address")),
        ("febf::1", Some("a link-local address")),
        ("fc00::1", Some("a private address")),
        ("fd12:3456::1", Some("a private address")),
        ("fec0::1", Some("a private address")),
        ("ff02::1", Some("a multicast address")),
        // IPv4-mapped, IPv4-compatible and NAT64 forms of v4 addresses.
        ("::ffff:127.0.0.1", Some("a loopback address")),
        ("::ffff:7f00:1", Some("a loopback address")),
        ("::ffff:10.0.0.1", Some("a private address")),
        ("::ffff:169.254.169.254", Some("a link-local address")),
        ("::127.0.0.1", Some("a reserved address")),
        ("64:ff9b::7f00:1", Some("a loopback address")),
        ("64:ff9b::a00:1", Some("a private address")),
        // Public addresses pass, near the edges of the ranges above.
        ("1.1.1.1", None),
        ("172.32.0.1", None),
        ("172.15.255.255", None),
        ("100.128.0.1", None),
        ("100.63.255.255", None),
        ("192.169.0.1", None),
        ("11.0.0.1", None),
        ("223.255.255.255", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
        ("2606:4700::1111", None),
        ("2001:db8::1", None),
    ];
    for (text, want) in table {
        let ip: IpAddr = text.parse().unwrap();
        assert_eq!(blocked_kind(ip), *want, "{text}");
    }
}

/// A policy that names the given IPs, globally (`None`) or for one session.
struct Names(Vec<(Option<SessionId>, IpAddr)>);

impl RequestPolicy for Names {
    fn check(&self, _: &PolicyRequest<'_>) -> PolicyDecision {
        PolicyDecision::Allow
    }
    fn names_address(&self, session: Option<&SessionIdentity>, ip: IpAddr) -> bool {
        self.0.iter().any(|(who, named)| {
            *named == ip && (who.is_none() || session.is_none() || *who == session.map(|s| s.session_id))
        })
    }
}

fn identity(name: &str) -> SessionIdentity {
    SessionIdentity::agent(SessionId::new(), SessionName::parse(name).unwrap())
}

fn sock(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[tokio::test]
async fn names_are_judged_by_what_they_resolve_to() {
    let wall = AddressWall::new(OverrideResolver::default(), vec![], Arc::new(Names(vec![])));
    let s = identity("a");
    // The resolver's numeric forms and the loopback name all land on 127.0.0.1.
    for host in ["localhost", "127.1", "2130706433", "0x7f000001", "127.0.0.1", "::ffff:127.0.0.1", "::1"] {
        let got = wall.resolve(host, 8080, Allowance::Session(&s)).await;
        assert!(matches!(got, Err(DialError::Walled(_))), "{host}: {got:?}");
    }
}

#[tokio::test]
async fn an_allow_rule_opens_its_exact_literal_for_its_session_only_and_never_our_listeners() {
    let (a, b) = (identity("a"), identity("b"));
    let api = sock("127.0.0.1:3030");
    let policy = Names(vec![(Some(a.session_id), "127.0.0.1".parse().unwrap())]);
    let wall = AddressWall::new(OverrideResolver::default(), vec![api], Arc::new(policy));
    assert_eq!(
        wall.resolve("127.0.0.1", 9000, Allowance::Session(&a)).await.unwrap(),
        [sock("127.0.0.1:9000")]
    );
    assert!(wall.check_literal("127.0.0.1", 9000, &a).is_ok());
    assert!(wall.check_literal("127.0.0.1", 9000, &b).is_err(), "b has no rule");
    assert!(
        wall.resolve("localhost", 9000, Allowance::Session(&a)).await.is_err(),
        "a rule names an IP, not a name"
    );
    // Never the API, not even with a rule, nor through 0.0.0.0.
    for host in ["127.0.0.1", "0.0.0.0"] {
        let Err(DialError::Walled(w)) = wall.resolve(host, 3030, Allowance::Session(&a)).await else {
            panic!("{host}:3030 reached the API");
        };
        assert!(!w.allowable && w.why.contains("clauderon's own"), "{w:?}");
    }
}

#[tokio::test]
async fn overrides_are_honoured_except_onto_our_own_listeners() {
    let proxy = sock("127.0.0.1:3128");
    let overrides = OverrideResolver::new(HashMap::from([
        ("api.example.com".to_string(), sock("127.0.0.1:8443")),
        ("evil.example.com".to_string(), sock("127.0.0.1:3128")),
    ]));
    let wall = AddressWall::new(overrides, vec![proxy], Arc::new(Names(vec![])));
    let s = identity("a");
    assert_eq!(
        wall.resolve("api.example.com", 443, Allowance::Session(&s)).await.unwrap(),
        [sock("127.0.0.1:8443")]
    );
    assert!(wall.resolve("evil.example.com", 443, Allowance::Session(&s)).await.is_err());
}

#[test]
fn a_listener_on_all_interfaces_is_ours_on_every_local_address() {
    let wall =
        AddressWall::new(OverrideResolver::default(), vec![sock("0.0.0.0:3030")], Arc::new(Names(vec![])));
    assert!(wall.is_own(sock("127.0.0.1:3030")));
    assert!(wall.is_own(sock("127.0.0.2:3030")));
    assert!(wall.is_own(sock("[::ffff:127.0.0.1]:3030")));
    assert!(!wall.is_own(sock("127.0.0.1:3031")));
    // 192.0.2.1 (TEST-NET) is not this host's.
    assert!(!wall.is_own(sock("192.0.2.1:3030")));
}
