//! Keystroke-to-echo round trips on a session's terminal, measured the same way in a browser
//! page (on the daemon's WebSocket) and through the client `clauderon attach` uses: for the
//! BENCHMARKS figures of each backend's terminal. The session should run `exec cat` (the tty
//! echoes).

use std::time::Duration;

/// In the page: `count` keystrokes on the session's terminal WebSocket (opened as the Terminal
/// tab opens it, with the page's key), each timed from its send to the first frame that echoes
/// it. Milliseconds; a keystroke unanswered in 2 s counts as 2,000.
const PAGE_ROUND_TRIPS: &str = "(async (name, count) => {
  const key = localStorage.getItem('clauderon.pageKey');
  const ws = new WebSocket(`ws://${location.host}/ws/sessions/${name}/terminal`,
    key ? ['clauderon', `clauderon-key.${key}`] : ['clauderon']);
  ws.binaryType = 'arraybuffer';
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
  const enc = new TextEncoder(), dec = new TextDecoder();
  let waiting = null;
  ws.onmessage = (m) => {
    if (waiting && m.data instanceof ArrayBuffer && dec.decode(m.data).includes(waiting.c)) {
      const w = waiting; waiting = null; w.done(performance.now());
    }
  };
  ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 30 }));
  const pause = (ms) => new Promise((r) => setTimeout(r, ms));
  await pause(500);
  const out = [];
  for (let i = 0; i < count; i++) {
    const c = KEYS[i % KEYS.length];
    const t0 = performance.now();
    const t1 = await Promise.race([
      new Promise((done) => { waiting = { c, done }; ws.send(enc.encode(c)); }),
      pause(2000).then(() => t0 + 2000),
    ]);
    waiting = null;
    out.push(t1 - t0);
    await pause(20);
    if (i % 40 === 39) { ws.send(enc.encode('\\r')); await pause(200); }
  }
  ws.close();
  return out;
})";

/// Keys no escape sequence of zellij's screen updates holds.
pub const KEYS: &str = "#%&*+,=~_<>";

/// The same, through the client `clauderon attach` uses (the daemon's Unix socket).
pub async fn client_round_trips(client: &clauderon_client::Client, name: &str, count: usize) -> Vec<f64> {
    use clauderon_client::terminal::TerminalEvent;
    let (mut reader, mut writer) =
        client.terminal(name).await.unwrap_or_else(|e| panic!("opening the terminal: {e}"));
    writer.resize(120, 30).await.unwrap_or_else(|e| panic!("resizing: {e}"));
    let drain = async |reader: &mut clauderon_client::terminal::TerminalReader, ms: u64| {
        let until = tokio::time::Instant::now() + Duration::from_millis(ms);
        while tokio::time::timeout_at(until, reader.next()).await.is_ok() {}
    };
    drain(&mut reader, 500).await;
    let mut out = Vec::new();
    for i in 0..count {
        let c = KEYS.as_bytes()[i % KEYS.len()];
        let t0 = std::time::Instant::now();
        writer.input(&[c]).await.unwrap_or_else(|e| panic!("typing: {e}"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            match tokio::time::timeout_at(deadline, reader.next()).await {
                Ok(Ok(TerminalEvent::Output(bytes))) if bytes.contains(&c) => break,
                Ok(Ok(TerminalEvent::Output(_))) => {}
                _ => break,
            }
        }
        out.push(t0.elapsed().as_secs_f64() * 1000.0);
        drain(&mut reader, 20).await;
        if i % 40 == 39 {
            writer.input(b"\r").await.unwrap_or_else(|e| panic!("typing: {e}"));
            drain(&mut reader, 200).await;
        }
    }
    writer.close().await;
    out
}

/// The page's function, ready for `Driver::eval`: call it as `(SCRIPT)('NAME', COUNT)`.
pub fn page_script() -> String {
    PAGE_ROUND_TRIPS.replace("KEYS", &format!("{KEYS:?}"))
}

/// Print `label`'s median, p90 and max; returns the median.
pub fn summary(label: &str, mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let median = v[v.len() / 2];
    println!(
        "{label}: {} keystrokes, median {median:.2} ms, p90 {:.2} ms, max {:.2} ms",
        v.len(),
        v[v.len() * 9 / 10],
        v[v.len() - 1]
    );
    median
}
