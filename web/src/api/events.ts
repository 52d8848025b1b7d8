// One WebSocket to /ws/events for the whole page. It reconnects by itself (with the replay
// cursor, `?since=<last seq>`, so nothing is missed), and tells listeners when it (re)opened,
// so they can reload what they show.
import { useEffect, useSyncExternalStore } from 'react';
import { pageKey, type SessionEvent } from './client';

export type Connection = 'connecting' | 'live' | 'reconnecting';

type EventListener = (event: SessionEvent) => void;
type OpenListener = () => void;

const eventListeners = new Set<EventListener>();
const openListeners = new Set<OpenListener>();
const connectionListeners = new Set<() => void>();
let connection: Connection = 'connecting';
let socket: WebSocket | null = null;
let lastSeq: number | null = null;
let retry = 0;
let timer: ReturnType<typeof setTimeout> | null = null;
let running = false;

function setConnection(next: Connection) {
  connection = next;
  connectionListeners.forEach((l) => l());
}

function open() {
  const key = pageKey();
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  const since = lastSeq === null ? '' : `?since=${lastSeq}`;
  // The key rides as a subprotocol: a browser cannot set headers on a WebSocket, and a URL
  // would put it in logs.
  const protocols = key ? ['clauderon', `clauderon-key.${key}`] : ['clauderon'];
  const ws = new WebSocket(`${scheme}://${window.location.host}/ws/events${since}`, protocols);
  socket = ws;
  ws.onopen = () => {
    retry = 0;
    setConnection('live');
    openListeners.forEach((l) => l());
  };
  ws.onmessage = (msg) => {
    let event: SessionEvent;
    try {
      event = JSON.parse(String(msg.data)) as SessionEvent;
    } catch {
      return;
    }
    if (typeof event.seq === 'number') lastSeq = Math.max(lastSeq ?? 0, event.seq);
    eventListeners.forEach((l) => l(event));
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    if (!running) return;
    setConnection('reconnecting');
    const delay = Math.min(5000, 250 * 2 ** retry);
    retry += 1;
    timer = setTimeout(open, delay);
  };
}

/** Start the socket (after sign-in). */
export function startEvents() {
  if (running) return;
  running = true;
  setConnection('connecting');
  open();
}

/** Stop it (sign-out). */
export function stopEvents() {
  running = false;
  if (timer) clearTimeout(timer);
  timer = null;
  socket?.close();
  socket = null;
  lastSeq = null;
}

export function useConnection(): Connection {
  return useSyncExternalStore(
    (l) => {
      connectionListeners.add(l);
      return () => connectionListeners.delete(l);
    },
    () => connection,
  );
}

/** Call `onEvent` for every event, and `onOpen` each time the socket (re)opens. */
export function useEvents(onEvent: EventListener, onOpen?: OpenListener) {
  useEffect(() => {
    eventListeners.add(onEvent);
    if (onOpen) openListeners.add(onOpen);
    return () => {
      eventListeners.delete(onEvent);
      if (onOpen) openListeners.delete(onOpen);
    };
  }, [onEvent, onOpen]);
}
