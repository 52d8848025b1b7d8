//! What a proxy process costs, read from `/proc`: CPU time (user + system, all threads) and
//! resident memory, summed over the process and its descendants (nginx's master and worker).

use std::time::Duration;

/// A process tree to watch, by the pid of its root.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Watched(pub(crate) u32);

/// The fields of `/proc/PID/stat` after the command name (which may hold spaces).
fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')').map_or(Vec::new(), |(_, rest)| rest.split_whitespace().map(String::from).collect())
}

/// CPU time used so far by process `pid` and its threads, dead ones included, in clock ticks of
/// 10 ms (the phases measured are long enough for that).
fn ticks(pid: u32) -> u64 {
    let fields = stat_fields(pid);
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    field(11) + field(12)
}

/// CPU time of process `pid` alone (the daemon; `None` for the direct path).
pub(crate) fn cpu_time(pid: Option<u32>) -> Duration {
    pid.map_or(Duration::ZERO, |pid| Duration::from_millis(ticks(pid) * 10))
}

/// `root` and every process below it.
fn tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            // The parent's pid is field 4 of the line, 2 after the name.
            if let Some(ppid) = stat_fields(pid).get(1).and_then(|p| p.parse::<u32>().ok()) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    out
}

/// A line of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

impl Watched {
    pub(crate) fn pid(self) -> u32 {
        self.0
    }

    /// CPU time of the whole tree.
    pub(crate) fn cpu(self) -> Duration {
        Duration::from_millis(tree(self.0).into_iter().map(ticks).sum::<u64>() * 10)
    }

    /// Resident memory of the whole tree now, in KiB.
    pub(crate) fn rss_kib(self) -> u64 {
        tree(self.0).into_iter().map(|p| status_kib(p, "VmRSS")).sum()
    }

    /// The most resident memory each process of the tree has had, added up, in KiB.
    pub(crate) fn peak_rss_kib(self) -> u64 {
        tree(self.0).into_iter().map(|p| status_kib(p, "VmHWM")).sum()
    }

    /// Open file descriptors of the root process (a check that held connections are held).
    pub(crate) fn open_fds(self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.0)).map_or(0, |d| d.count())
    }
}
