//! Frame time: one `update` (a `j` key, or a live status change) plus one `draw` to a
//! `TestBackend`, with 100 and 10,000 sessions, at 120×40 and 300×80. Prints p50/p99/max.
//!
//! `cargo run --release -p clauderon-tui --example frame_bench`
#![allow(clippy::unwrap_used)]

use chrono::{Duration, Utc};
use clauderon_tui::{Event, State, draw, update};
use clauderon_types::{Session, SessionEvent};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Instant;

const STATUSES: [&str; 5] = ["running", "idle", "waiting-for-input", "stopped", "failed"];
const FRAMES: usize = 1000;
/// The live changes cycle through these; one in three crosses "waiting", which re-sorts.
const LIVE_TO: [&str; 3] = ["idle", "running", "waiting-for-input"];

fn session(i: usize) -> Session {
    let created = Utc::now() - Duration::seconds(i as i64 * 7);
    serde_json::from_value(serde_json::json!({
        "id": format!("00000000-0000-4000-8000-{i:012}"),
        "name": format!("session-{i}"),
        "repo_path": format!("/home/dev/src/repo-{}", i % 17),
        "branch": format!("clauderon/session-{i}"),
        "base_commit": "0123456789abcdef0123456789abcdef01234567",
        "worktree_path": format!("/home/dev/.clauderon/worktrees/session-{i}"),
        "backend": "zellij", "agent": "claude", "access_mode": "read-only",
        "prompt": "p", "status": STATUSES[i % 5], "archived": false,
        "backend_handle": null, "error": null, "created_at": created, "updated_at": created,
    }))
    .unwrap()
}

fn live(i: usize, n: usize) -> Event {
    let target = i % n;
    let ev: SessionEvent = serde_json::from_value(serde_json::json!({
        "seq": i, "session_id": format!("00000000-0000-4000-8000-{target:012}"),
        "session_name": format!("session-{target}"), "at": Utc::now(),
        "type": "status-changed", "from": "running", "to": LIVE_TO[(i / 2) % 3],
    }))
    .unwrap();
    Event::Live(Box::new(ev))
}

fn main() {
    for n in [100, 10_000] {
        for (w, h) in [(120u16, 40u16), (300, 80)] {
            let mut state = State::new(true, Utc::now());
            update(&mut state, Event::Sessions((0..n).map(session).collect()));
            let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
            let mut times = Vec::with_capacity(FRAMES);
            for i in 0..FRAMES {
                let event = if i.is_multiple_of(2) {
                    Event::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE))
                } else {
                    live(i, n)
                };
                let start = Instant::now();
                update(&mut state, event);
                terminal.draw(|f| draw(&state, f)).unwrap();
                times.push(start.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
            println!(
                "{n:>6} sessions {w}x{h}: p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms ({FRAMES} frames: j key / live status change)",
                at(0.5),
                at(0.99),
                times[times.len() - 1]
            );
        }
    }
}
