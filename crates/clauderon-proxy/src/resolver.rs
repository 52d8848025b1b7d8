//! Where an upstream host is: the per-host address overrides first (config
//! `[proxy.upstream_overrides]`, tests), then the system resolver. Used by the address wall and
//! by the clients that do not go through it (the OAuth token endpoint).

use futures_util::future::BoxFuture;
use hyper_util::client::legacy::connect::dns::Name;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Resolves names through the overrides first, then the system resolver.
#[derive(Clone, Debug, Default)]
pub struct OverrideResolver {
    overrides: Arc<HashMap<String, SocketAddr>>,
}

impl OverrideResolver {
    pub fn new(overrides: HashMap<String, SocketAddr>) -> Self {
        let overrides = overrides.into_iter().map(|(h, a)| (h.to_ascii_lowercase(), a)).collect();
        OverrideResolver { overrides: Arc::new(overrides) }
    }

    /// The address to use for `host`, when overridden.
    pub fn lookup(&self, host: &str) -> Option<SocketAddr> {
        self.overrides.get(&host.to_ascii_lowercase()).copied()
    }
}

impl tower_service::Service<Name> for OverrideResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let fixed = self.lookup(name.as_str());
        let host = name.as_str().to_string();
        Box::pin(async move {
            if let Some(addr) = fixed {
                return Ok(vec![addr].into_iter());
            }
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(addrs.into_iter())
        })
    }
}
