//! `diff NAME`: the session's work against its base, as a patch, a stat, or names.
//!
//! Paths and lines are the session's own text: control characters are shown as `^X` / `\u{..}`
//! ([`visible`]) so a file cannot send escape sequences to the user's terminal.

use super::Style;
use clauderon_types::diff::{DiffFile, FileStatus, SessionDiff};

/// `text` with every control character but a tab made visible: C0 as `^X`, DEL as `^?`,
/// C1 as `\u{8b}`. A terminal then shows what is there and obeys none of it.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' => out.push(c),
            '\u{0}'..='\u{1f}' => {
                out.push('^');
                out.push(char::from(b'@' + c as u8));
            }
            '\u{7f}' => out.push_str("^?"),
            '\u{80}'..='\u{9f}' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            _ => out.push(c),
        }
    }
    out
}

fn shown_path(f: &DiffFile) -> String {
    match &f.old_path {
        Some(old) => format!("{} => {}", visible(old), visible(&f.path)),
        None => visible(&f.path),
    }
}

impl Style {
    fn sgr(&self, code: u8, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    /// `--name-only`: one path a line.
    pub fn diff_names(&self, diff: &SessionDiff) -> String {
        diff.files.iter().map(|f| visible(&f.path)).collect::<Vec<_>>().join("\n")
    }

    /// `--stat`: one line a file with its counts and a bar, then the totals.
    pub fn diff_stat(&self, diff: &SessionDiff) -> String {
        if diff.files.is_empty() {
            return format!("no changes on {} since {}", visible(&diff.branch), short(&diff.base));
        }
        let paths: Vec<String> = diff.files.iter().map(shown_path).collect();
        let width = paths.iter().map(|p| p.chars().count()).max().unwrap_or(0);
        let most =
            diff.files.iter().map(|f| f.additions.unwrap_or(0) + f.deletions.unwrap_or(0)).max().unwrap_or(0);
        let mut lines = Vec::new();
        for (f, path) in diff.files.iter().zip(&paths) {
            let pad = " ".repeat(width - path.chars().count());
            let mark = if f.uncommitted { " (uncommitted)" } else { "" };
            let counts = match (f.additions, f.deletions) {
                (Some(a), Some(d)) => {
                    // The bar is at most 40 wide, scaled to the largest change.
                    let scale = |n: u64| if most <= 40 { n } else { (n * 40).div_ceil(most) };
                    let bar = format!(
                        "{}{}",
                        self.sgr(32, &"+".repeat(scale(a) as usize)),
                        self.sgr(31, &"-".repeat(scale(d) as usize))
                    );
                    format!("{:>5} {bar}", a + d)
                }
                _ => "  Bin".to_string(),
            };
            lines.push(format!(" {} {path}{pad} | {counts}{mark}", f.status.letter()));
        }
        lines.push(format!(
            " {} file{} changed, {} insertion{}(+), {} deletion{}(-) against {}",
            diff.files.len(),
            plural(diff.files.len() as u64),
            diff.additions,
            plural(diff.additions),
            diff.deletions,
            plural(diff.deletions),
            short(&diff.base)
        ));
        lines.join("\n")
    }

    /// The whole patch, git's way, with the commits on the branch first.
    pub fn diff_patch(&self, diff: &SessionDiff) -> String {
        let mut out = Vec::new();
        for c in &diff.commits {
            out.push(format!("{} {}", self.sgr(33, short(&c.id)), visible(&c.summary)));
        }
        if diff.commits_truncated {
            out.push("… older commits left out".into());
        }
        if diff.files.is_empty() {
            out.push(format!("no changes on {} since {}", visible(&diff.branch), short(&diff.base)));
            return out.join("\n");
        }
        if !diff.commits.is_empty() {
            out.push(String::new());
        }
        for f in &diff.files {
            let old = f.old_path.as_deref().unwrap_or(&f.path);
            out.push(self.sgr(1, &format!("diff --git a/{} b/{}", visible(old), visible(&f.path))));
            match f.status {
                FileStatus::Added => {
                    out.push(format!("new file mode {}", f.new_mode.as_deref().unwrap_or("?")))
                }
                FileStatus::Deleted => {
                    out.push(format!("deleted file mode {}", f.old_mode.as_deref().unwrap_or("?")))
                }
                FileStatus::Renamed | FileStatus::Copied => {
                    let verb = if f.status == FileStatus::Renamed { "rename" } else { "copy" };
                    out.push(format!("{verb} from {}", visible(old)));
                    out.push(format!("{verb} to {}", visible(&f.path)));
                }
                _ if f.old_mode != f.new_mode => {
                    out.push(format!("old mode {}", f.old_mode.as_deref().unwrap_or("?")));
                    out.push(format!("new mode {}", f.new_mode.as_deref().unwrap_or("?")));
                }
                _ => {}
            }
            if f.uncommitted {
                out.push("(uncommitted)".into());
            }
            if let Some(why) = &f.omitted {
                out.push(format!("({why})"));
                continue;
            }
            if !f.hunks.is_empty() {
                let from = if f.status == FileStatus::Added {
                    "/dev/null".into()
                } else {
                    format!("a/{}", visible(old))
                };
                let to = if f.status == FileStatus::Deleted {
                    "/dev/null".into()
                } else {
                    format!("b/{}", visible(&f.path))
                };
                out.push(format!("--- {from}"));
                out.push(format!("+++ {to}"));
            }
            for h in &f.hunks {
                out.push(self.sgr(36, &visible(&h.header)));
                for line in &h.lines {
                    let code = match line.chars().next() {
                        Some('+') => Some(32),
                        Some('-') => Some(31),
                        _ => None,
                    };
                    let text = visible(line);
                    out.push(match code {
                        Some(code) => self.sgr(code, &text),
                        None => text,
                    });
                }
            }
        }
        if diff.truncated {
            out.push("(the diff was cut at its size cap: `git diff` in the worktree shows it all)".into());
        }
        out.join("\n")
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_from_a_session_reach_the_terminal_as_text() {
        assert_eq!(visible("a\x1b]52;c;cHdu\x07b\tc\u{9b}31m\x7f"), "a^[]52;c;cHdu^Gb\tc\\u{9b}31m^?");
    }
}
