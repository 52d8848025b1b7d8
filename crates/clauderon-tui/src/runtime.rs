//! The loop with the IO: the terminal, the keyboard, the client. Effects become client calls
//! on their own tasks; their answers, the keyboard and `/ws/events` come back as events on one
//! channel; the screen is redrawn only after an event, never on a timer of its own.

use crate::pages::{audit_line, chat_lines, diff_lines, log_lines, usage_lines};
use crate::state::{PageKind, State};
use crate::update::{Effect, Event, update};
use chrono::Utc;
use clauderon_client::{Client, ClientError};
use clauderon_types::usage::BucketWidth;
use crossterm::event::{self as term_event, Event as TermEvent, KeyEventKind};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, Stdout};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

/// How often ages are redrawn when nothing else happens.
const AGE_TICK: Duration = Duration::from_secs(5);
/// How long the keyboard thread waits for a key before it looks at its pause flag again.
const KEY_POLL: Duration = Duration::from_millis(100);

/// The details pane shows this many of the last chat messages and proxy requests.
const RECENT_MESSAGES: usize = 3;
const RECENT_REQUESTS: usize = 5;

/// What `run` needs from the binary.
pub struct Options {
    pub client: Client,
    /// Colours on (`NO_COLOR` and `--color` are the binary's to judge).
    pub color: bool,
    /// The program that attaches (`clauderon`), and its arguments before the session's name
    /// (`["attach"]`): the TUI hands it the screen and comes back when it ends.
    pub attach_program: PathBuf,
    pub attach_args: Vec<String>,
}

/// Run the TUI until the user quits. The terminal is put back on every way out, a panic included.
pub async fn run(opts: Options) -> io::Result<()> {
    install_panic_hook();
    let mut terminal = enter()?;
    let result = event_loop(&mut terminal, opts).await;
    leave();
    result
}

type Screen = Terminal<CrosstermBackend<Stdout>>;

fn enter() -> io::Result<Screen> {
    enable_raw_mode()?;
    let mut out = io::stdout();
    if let Err(e) = execute!(out, EnterAlternateScreen, cursor::Hide) {
        leave();
        return Err(e);
    }
    Terminal::new(CrosstermBackend::new(out))
}

/// Back to the shell's screen; safe to call more than once.
fn leave() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        leave();
        previous(info);
    }));
}

/// The keyboard, read on its own thread; `paused` while an attach owns the terminal.
struct Keyboard {
    paused: Arc<AtomicBool>,
    /// Set by the thread once it has stopped reading.
    idle: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Keyboard {
    fn spawn(tx: UnboundedSender<Event>) -> Self {
        let paused = Arc::new(AtomicBool::new(false));
        let idle = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, i, s) = (paused.clone(), idle.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if p.load(Ordering::Acquire) {
                    i.store(true, Ordering::Release);
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                i.store(false, Ordering::Release);
                match term_event::poll(KEY_POLL) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(_) => break,
                }
                let event = match term_event::read() {
                    Ok(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => Event::Key(k),
                    Ok(TermEvent::Resize(..)) => Event::Resize,
                    Ok(_) => continue,
                    Err(_) => break,
                };
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        Keyboard { paused, idle, stop }
    }

    /// Stop reading keys and wait until the thread has (so the attach gets every key).
    async fn pause(&self) {
        self.paused.store(true, Ordering::Release);
        for _ in 0..50 {
            if self.idle.load(Ordering::Acquire) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::Release);
    }
}

impl Drop for Keyboard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

async fn event_loop(terminal: &mut Screen, opts: Options) -> io::Result<()> {
    let (tx, mut rx) = unbounded_channel();
    let keyboard = Keyboard::spawn(tx.clone());
    let follower = tokio::spawn(follow_events(opts.client.clone(), tx.clone()));
    let ticker = tokio::spawn({
        let tx = tx.clone();
        async move {
            let mut every = tokio::time::interval(AGE_TICK);
            every.tick().await;
            loop {
                every.tick().await;
                if tx.send(Event::Tick(Utc::now())).is_err() {
                    break;
                }
            }
        }
    });
    let mut state = State::new(opts.color, Utc::now());
    let mut pending = vec![Effect::LoadSessions(state.view)];
    let outcome = loop {
        for effect in pending.drain(..) {
            match effect {
                Effect::Quit => state.quit = true,
                Effect::Attach(name) => {
                    keyboard.pause().await;
                    leave();
                    let status = tokio::process::Command::new(&opts.attach_program)
                        .args(&opts.attach_args)
                        .arg(&name)
                        .status()
                        .await;
                    let back = enter_again(terminal);
                    keyboard.resume();
                    back?;
                    let result = match status {
                        Ok(s) if s.success() => Ok(()),
                        Ok(s) => {
                            Err(format!("attach to {name} ended with {s}: see `clauderon attach {name}`"))
                        }
                        Err(e) => Err(format!("could not run {}: {e}", opts.attach_program.display())),
                    };
                    let _ = tx.send(Event::Attached(result));
                }
                other => perform(&opts.client, other, tx.clone()),
            }
        }
        if state.quit {
            break Ok(());
        }
        if let Err(e) = terminal.draw(|f| crate::draw(&state, f)) {
            break Err(e);
        }
        // Debug builds only: how the tests check that a panic puts the terminal back.
        #[cfg(debug_assertions)]
        if state.connection == crate::Connection::Live
            && std::env::var_os("CLAUDERON_TUI_TEST_PANIC").is_some()
        {
            panic!("CLAUDERON_TUI_TEST_PANIC is set: a panic on purpose, with the list on screen");
        }
        let Some(event) = rx.recv().await else { break Ok(()) };
        pending.extend(update(&mut state, event));
        // Take whatever else is queued before drawing: one frame for a burst of events.
        while let Ok(event) = rx.try_recv() {
            pending.extend(update(&mut state, event));
        }
    };
    follower.abort();
    ticker.abort();
    drop(keyboard);
    outcome
}

fn enter_again(terminal: &mut Screen) -> io::Result<()> {
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
    terminal.clear()
}

/// `/ws/events`, reconnecting with a growing pause while the daemon is away; from the last
/// event seen, so nothing is missed across a reconnect.
async fn follow_events(client: Client, tx: UnboundedSender<Event>) {
    let mut since: Option<i64> = None;
    let mut pause = Duration::from_millis(250);
    loop {
        match client.events(since).await {
            Ok(mut stream) => {
                pause = Duration::from_millis(250);
                if tx.send(Event::Connected).is_err() {
                    return;
                }
                loop {
                    match stream.next().await {
                        Ok(Some(ev)) => {
                            since = Some(ev.seq);
                            if tx.send(Event::Live(Box::new(ev))).is_err() {
                                return;
                            }
                        }
                        Ok(None) => {
                            let _ = tx.send(Event::Disconnected("the daemon closed the event stream".into()));
                            break;
                        }
                        Err(e) => {
                            let _ = tx.send(Event::Disconnected(e.to_string()));
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                if tx.send(Event::Disconnected(short(&e))).is_err() {
                    return;
                }
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// The first sentence of an error, for the title line.
fn short(e: &ClientError) -> String {
    let text = e.to_string();
    text.split(". ").next().unwrap_or(&text).chars().take(100).collect()
}

fn failed(e: ClientError) -> Event {
    match e {
        ClientError::DaemonNotRunning { .. } | ClientError::Unreachable { .. } => {
            Event::Disconnected(short(&e))
        }
        e => Event::Failed { conflict: e.status() == Some(409), message: e.to_string() },
    }
}

/// Run one effect's client call on its own task; its answer comes back as an event.
fn perform(client: &Client, effect: Effect, tx: UnboundedSender<Event>) {
    let client = client.clone();
    tokio::spawn(async move {
        let event = match effect {
            Effect::LoadSessions(view) => match client.list(view).await {
                Ok(list) => {
                    let _ = tx.send(Event::Costs(list.costs_usd));
                    Event::Sessions(list.sessions)
                }
                Err(e) => failed(e),
            },
            Effect::LoadCosts(view) => match client.list(view).await {
                Ok(list) => Event::Costs(list.costs_usd),
                // A missed refresh is not worth a message: the next one comes soon.
                Err(_) => return,
            },
            Effect::LoadDetail(name) => {
                let detail = client.get(&name).await;
                let cost = client.usage(&name, BucketWidth::Day).await;
                if let Ok(report) = cost {
                    let _ = tx.send(Event::Cost { session: name.clone(), usd: report.total_cost_usd });
                }
                let chat = match client.messages(&name, None, Some(1000)).await {
                    Ok(page) => {
                        let from = page.messages.len().saturating_sub(RECENT_MESSAGES);
                        chat_lines(&page.messages[from..])
                    }
                    Err(_) => Vec::new(),
                };
                let audit = match client.session_requests(&name, None, Some(RECENT_REQUESTS)).await {
                    Ok(list) => list.requests.iter().map(audit_line).collect(),
                    Err(_) => Vec::new(),
                };
                let _ = tx.send(Event::Recent { session: name.clone(), chat, audit });
                match detail {
                    Ok(d) => Event::Detail(Box::new(d)),
                    Err(e) => failed(e),
                }
            }
            Effect::Send { session, text } => match client.send_input(&session, &text).await {
                Ok(()) => Event::Done(format!("Sent to {session}.")),
                Err(e) => failed(e),
            },
            Effect::SetAccess { session, mode } => match client.set_access_mode(&session, mode).await {
                Ok(s) => Event::Done(format!("{} is {} now.", s.name, s.access_mode)),
                Err(e) => failed(e),
            },
            Effect::Stop(name) => done(client.stop(&name).await, "Stopped"),
            Effect::Start(name) => done(client.start(&name).await, "Started"),
            Effect::Archive(name) => done(client.archive(&name).await, "Archived"),
            Effect::Unarchive(name) => done(client.unarchive(&name).await, "Unarchived"),
            Effect::Delete { session, force, delete_branch } => {
                let q = clauderon_types::api::DeleteQuery { force, delete_branch };
                match client.delete(&session, q).await {
                    Ok(s) => Event::Deleted(s.name.to_string()),
                    Err(e) => failed(e),
                }
            }
            Effect::Load { kind, session } => {
                let lines = match kind {
                    PageKind::Logs => client.logs(&session, 1000).await.map(|t| log_lines(&t)),
                    PageKind::Usage => {
                        client.usage(&session, BucketWidth::Hour).await.map(|r| usage_lines(&r))
                    }
                    PageKind::Chat => {
                        client.messages(&session, None, Some(1000)).await.map(|p| chat_lines(&p.messages))
                    }
                    PageKind::Changes => client.diff(&session, true).await.map(|d| diff_lines(&d)),
                };
                match lines {
                    Ok(lines) => Event::PageText { kind, session, lines },
                    Err(e) => Event::PageText { kind, session, lines: vec![e.to_string()] },
                }
            }
            Effect::Create(req) => match client.create(&req).await {
                Ok(s) => Event::Created(Box::new(s)),
                Err(e) => Event::CreateFailed(e.to_string()),
            },
            Effect::Attach(_) | Effect::Quit => return,
        };
        let _ = tx.send(event);
    });
}

fn done(result: Result<clauderon_types::Session, ClientError>, what: &str) -> Event {
    match result {
        Ok(s) => Event::Done(format!("{what} {}.", s.name)),
        Err(e) => failed(e),
    }
}
