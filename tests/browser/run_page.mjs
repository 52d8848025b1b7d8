// Opens one page in real Chromium (Debian's /usr/bin/chromium, driven by playwright-core; no
// browser is ever downloaded), waits for the page's own verdict, and prints one JSON line:
//
//   {"ok": true, "result": <window.pageResult>, "responses": [...], "websockets": [...], "console": [...]}
//
// - result: what the page's JavaScript reports; the page sets `window.pageResult` to a promise
//   of a JSON value.
// - responses: every HTTP response the browser received, any frame ({method, url, status}), so a
//   test can see that a request really reached a server and what it answered, even where the
//   page itself may not read the answer (no-cors fetches, cross-origin form posts).
// - websockets: every WebSocket handshake the browser attempted ({url, status}; status is null
//   when no HTTP answer came back at all).
//
// On any failure it prints {"ok": false, "error": "..."} and exits 1.
//
// Usage: node tests/browser/run_page.mjs URL [TIMEOUT_MS]
// CLAUDERON_TEST_CHROMIUM overrides the browser's path (default /usr/bin/chromium).

import { chromium } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, timeoutArg] = process.argv.slice(2);
const timeout = Number(timeoutArg ?? 30000);
const executablePath = process.env.CLAUDERON_TEST_CHROMIUM || '/usr/bin/chromium';

function finish(value, code) {
  process.stdout.write(JSON.stringify(value) + '\n');
  process.exitCode = code;
}

async function main() {
  if (!url) throw new Error('usage: node run_page.mjs URL [TIMEOUT_MS]');
  // A fresh profile every run: no cookies, cache or permissions carried between tests.
  const profile = await mkdtemp(join(tmpdir(), 'clauderon-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      timeout,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const responses = [];
    const websockets = new Map();
    const consoleLines = [];
    page.on('response', (r) => {
      responses.push({ method: r.request().method(), url: r.url(), status: r.status() });
    });
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    // WebSocket handshake statuses come from the DevTools protocol: playwright's own
    // WebSocket events do not say what the server answered.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.webSocketCreated', (e) => {
      websockets.set(e.requestId, { url: e.url, status: null });
    });
    cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
      const ws = websockets.get(e.requestId);
      if (ws) ws.status = e.response.status;
    });

    await page.goto(url, { timeout, waitUntil: 'load' });
    const result = await page.evaluate(
      (ms) =>
        Promise.race([
          window.pageResult ?? Promise.reject(new Error('the page set no window.pageResult')),
          new Promise((_, reject) => setTimeout(() => reject(new Error(`no page result after ${ms} ms`)), ms)),
        ]),
      timeout,
    );
    finish({ ok: true, result, responses, websockets: [...websockets.values()], console: consoleLines }, 0);
  } finally {
    if (context) await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true }).catch(() => {});
  }
}

main().catch((e) => finish({ ok: false, error: String(e && e.stack ? e.stack : e) }, 1));
