// Drives one real Chromium page (Debian's /usr/bin/chromium through playwright-core; no browser
// is ever downloaded) by commands read from stdin, one JSON object a line, answering each with
// one JSON line on stdout: {"ok": true, "value": ...} or {"ok": false, "error": "...", "console": [...]}.
// A test (crates/clauderon-testkit/src/browser.rs, `Driver`) interleaves these with its own
// API calls: load the page, change something through the API, see the page follow.
//
// Commands ({"op": ..., ...}):
//   goto {url}                          load a page and wait for it
//   click {selector}                    click (waits until it is there and enabled)
//   fill {selector, value}              type into an input
//   press {key}                         a key on the page (`/`, `j`, `Enter`)
//   wait {selector, text?, gone?}       until an element (with that text) shows, or is gone
//   text {selector}                     its innerText
//   count {selector}                    how many match
//   eval {expr}                         evaluate a JavaScript expression in the page
//   viewport {width, height}            resize the page
//   scheme {value}                      emulate the system's colour scheme (light | dark)
//   offline {value}                     cut the page's network (true) or give it back (false)
//   screenshot {path}                   save a PNG
//   console                             the page's console lines and errors so far
//   axe                                 axe-core's serious and critical violations on the page
//                                       (WCAG 2 A and AA rules), as [{id, impact, help, targets}]
//   close                               end
// Timeouts: TIMEOUT_MS (argv[2], default 15000) for each waiting command.
//
// Usage: node tests/browser/drive.mjs [TIMEOUT_MS]
// CLAUDERON_TEST_CHROMIUM overrides the browser's path (default /usr/bin/chromium).

import { chromium } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

// axe-core from this folder's node_modules, evaluated into the page through DevTools (so the
// page's Content-Security-Policy, which allows no inline script, stays as it is).
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const timeout = Number(process.argv[2] ?? 15000);
const executablePath = process.env.CLAUDERON_TEST_CHROMIUM || '/usr/bin/chromium';

function reply(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}

async function run(page, consoleLines, cmd) {
  const locate = () => {
    let l = page.locator(cmd.selector);
    if (cmd.text !== undefined) l = l.filter({ hasText: cmd.text });
    return l.first();
  };
  switch (cmd.op) {
    case 'goto':
      await page.goto(cmd.url, { timeout, waitUntil: 'load' });
      return page.url();
    case 'click':
      await locate().click({ timeout });
      return null;
    case 'fill':
      await locate().fill(cmd.value, { timeout });
      return null;
    case 'press':
      await page.keyboard.press(cmd.key);
      return null;
    case 'type':
      await page.keyboard.type(cmd.text);
      return null;
    case 'wait':
      await locate().waitFor({ state: cmd.gone ? 'detached' : 'visible', timeout });
      return null;
    case 'text':
      return await locate().innerText({ timeout });
    case 'count':
      return await page.locator(cmd.selector).count();
    case 'eval':
      return await page.evaluate(cmd.expr);
    case 'viewport':
      await page.setViewportSize({ width: cmd.width, height: cmd.height });
      return null;
    case 'offline':
      await page.context().setOffline(Boolean(cmd.value));
      return null;
    case 'scheme':
      await page.emulateMedia({ colorScheme: cmd.value });
      return null;
    case 'screenshot':
      await page.screenshot({ path: cmd.path, fullPage: true });
      return cmd.path;
    case 'console':
      return consoleLines;
    case 'axe': {
      if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(axeSource);
      const result = await page.evaluate(() =>
        window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
      );
      return result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd.op)}`);
  }
}

async function main() {
  // A fresh profile every run: no cookies, cache or permissions carried between tests.
  const profile = await mkdtemp(join(tmpdir(), 'clauderon-chromium-'));
  let context;
  const consoleLines = [];
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      timeout,
      viewport: { width: 1280, height: 800 },
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
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    reply({ ok: true, value: 'ready' });
    for await (const line of createInterface({ input: process.stdin })) {
      if (!line.trim()) continue;
      let cmd;
      try {
        cmd = JSON.parse(line);
      } catch (e) {
        reply({ ok: false, error: `not JSON: ${e}` });
        continue;
      }
      if (cmd.op === 'close') break;
      try {
        reply({ ok: true, value: (await run(page, consoleLines, cmd)) ?? null });
      } catch (e) {
        reply({ ok: false, error: String(e && e.message ? e.message : e), console: consoleLines });
      }
    }
  } catch (e) {
    reply({ ok: false, error: String(e && e.stack ? e.stack : e), console: consoleLines });
    process.exitCode = 1;
  } finally {
    if (context) await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true }).catch(() => {});
  }
}

// stdin stays open after `close`: end the process rather than wait for it.
main().then(() => process.exit());
