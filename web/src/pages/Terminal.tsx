// The Terminal tab: the session's terminal over /ws/sessions/{name}/terminal (binary frames are
// terminal bytes both ways, text frames JSON: `resize` from here, `command` from the daemon when
// the session's terminal is a host command, a zellij session). xterm.js is loaded only when the
// tab opens (a dynamic import: its own chunk, outside the first load).
import { useEffect, useRef, useState } from 'react';
import { pageKey, sessionPath } from '../api/client';

type State = { kind: 'connecting' } | { kind: 'live' } | { kind: 'reconnecting' } | { kind: 'command'; line: string };

/** A program and its arguments as a line to paste into a shell. */
export function shellLine(program: string, args: string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return [program, ...args].map(quote).join(' ');
}

export function Terminal({ name }: { name: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>({ kind: 'connecting' });

  useEffect(() => {
    let stopped = false;
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let retry = 0;
    let dispose = () => {};

    const start = async () => {
      const [{ Terminal: Xterm }, { FitAddon }] = await Promise.all([
        import('@xterm/xterm'),
        import('@xterm/addon-fit'),
        import('@xterm/xterm/css/xterm.css'),
      ]);
      if (stopped || !box.current) return;
      const term = new Xterm({ convertEol: false, scrollback: 5000, cursorBlink: true });
      const fit = new FitAddon();
      term.loadAddon(fit);
      term.open(box.current);
      fit.fit();
      const encoder = new TextEncoder();
      const sendSize = () => {
        if (socket?.readyState === WebSocket.OPEN)
          socket.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
      };
      const typed = term.onData((d) => {
        if (socket?.readyState === WebSocket.OPEN) socket.send(encoder.encode(d));
      });
      const resized = term.onResize(sendSize);
      const observer = new ResizeObserver(() => fit.fit());
      observer.observe(box.current);

      const connect = () => {
        const key = pageKey();
        const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
        const protocols = key ? ['clauderon', `clauderon-key.${key}`] : ['clauderon'];
        const ws = new WebSocket(`${scheme}://${window.location.host}/ws${sessionPath(name).slice(4)}/terminal`, protocols);
        ws.binaryType = 'arraybuffer';
        socket = ws;
        let command = false;
        ws.onopen = () => {
          retry = 0;
          setState({ kind: 'live' });
          sendSize();
        };
        ws.onmessage = (msg) => {
          if (msg.data instanceof ArrayBuffer) {
            term.write(new Uint8Array(msg.data));
            return;
          }
          try {
            const m = JSON.parse(String(msg.data)) as { type?: string; program?: string; args?: string[] };
            if (m.type === 'command' && typeof m.program === 'string') {
              command = true;
              setState({ kind: 'command', line: shellLine(m.program, m.args ?? []) });
            }
          } catch {
            // Not ours to show.
          }
        };
        ws.onclose = () => {
          if (socket !== ws) return;
          socket = null;
          if (stopped || command) return;
          setState({ kind: 'reconnecting' });
          timer = setTimeout(connect, Math.min(5000, 250 * 2 ** retry));
          retry += 1;
        };
      };
      connect();
      dispose = () => {
        observer.disconnect();
        typed.dispose();
        resized.dispose();
        term.dispose();
      };
    };
    void start();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      const s = socket;
      socket = null;
      s?.close();
      dispose();
    };
  }, [name]);

  return (
    <div className="terminal-tab">
      {state.kind === 'command' ? (
        <div className="state" data-testid="terminal-command">
          <p>This session's terminal runs on the host. Attach to it from a terminal there:</p>
          <pre className="command-line">{state.line}</pre>
        </div>
      ) : (
        state.kind !== 'live' && (
          <p className="state" role="status" data-testid="terminal-state">
            {state.kind === 'connecting' ? 'connecting…' : 'reconnecting…'}
          </p>
        )
      )}
      <div ref={box} className="terminal" hidden={state.kind === 'command'} data-testid="terminal" />
    </div>
  );
}
