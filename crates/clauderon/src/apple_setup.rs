//! The Apple Container backend in the shipped daemon. It registers everywhere: on Linux creating
//! a session with it says it is not available here and what to use; on macOS the proxy also
//! listens on the address containers reach the host at (vmnet's gateway).

use clauderon_apple::{AppleContainerBackend, AppleSettings};
use clauderon_daemon::LaunchOptions;
use clauderon_types::DataLayout;
use std::sync::Arc;

pub fn register(options: &mut LaunchOptions, layout: &DataLayout) {
    let settings = AppleSettings::new(layout.root(), |k| std::env::var(k).ok());
    if cfg!(target_os = "macos")
        && let Ok(ip) = settings.host_address.parse()
    {
        options.extra_proxy_ips.push(ip);
    }
    options.backends.push(Arc::new(AppleContainerBackend::new(settings)));
}
