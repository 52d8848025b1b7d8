//! Stand-ins for programs that cannot run here, for the backends that drive them. Each is
//! honest about what it is: it records its arguments and emulates the real program's state and
//! outputs, and the tests using it say so.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Apple's `container` tool (macOS 26 only): see the script's header.
pub const CONTAINER: &str = include_str!("stand_ins/container.py");

/// Write the `container` stand-in into `dir` (executable); its state and the calls it got go to
/// `dir/state`.
pub fn install_container(dir: &Path) -> PathBuf {
    let path = dir.join("container");
    std::fs::write(&path, CONTAINER).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    path
}

/// Every call the stand-in in `dir` got, as argument lists.
pub fn container_calls(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("state/calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("calls.jsonl: {e}: {l}")))
        .collect()
}
