import { Suspense, lazy, useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, api, sessionPath, type ChatMessage, type MessagePage, type Session } from '../api/client';
import { liveStatus } from '../sessions/apply';

// The Markdown renderer is its own chunk, loaded with the first message: plain text until then.
const MessageText = lazy(() => import('./markdown').then((m) => ({ default: m.MessageText })));

/** How often the chat is read again while the agent works (events also trigger a read). */
const POLL_MS = 2000;
const IDLE_POLL_MS = 5000;

/** A tool call's input in one line: its most telling field, else its JSON, cut short. */
function summary(input: unknown): string {
  let text: string;
  if (input && typeof input === 'object') {
    const o = input as Record<string, unknown>;
    const pick = ['command', 'file_path', 'path', 'pattern', 'url', 'description'].find((k) => typeof o[k] === 'string');
    text = pick ? String(o[pick]) : JSON.stringify(input);
  } else {
    text = JSON.stringify(input) ?? '';
  }
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

/** Everything here is the session's text: Markdown rendered inertly (see markdown.tsx), tool
 * calls and results as plain text; nothing is ever set as HTML. */
function Bubble({ message }: { message: ChatMessage }) {
  return (
    <li className={`msg msg-${message.role}`} data-role={message.role}>
      <div className="who">{message.role}</div>
      {message.text && (
        <Suspense fallback={<div className="text">{message.text}</div>}>
          <MessageText text={message.text} />
        </Suspense>
      )}
      {(message.tool_calls ?? []).map((call) => (
        <details key={call.id} className="tool">
          <summary>
            <span className="tool-name">{call.name}</span> {summary(call.input)}
          </summary>
          <pre>{JSON.stringify(call.input, null, 2)}</pre>
        </details>
      ))}
      {(message.tool_results ?? []).map((r) => (
        <details key={r.tool_use_id} className={r.is_error ? 'tool tool-error' : 'tool'}>
          <summary>
            {r.is_error ? 'tool error' : 'tool result'}: {summary(r.output.split('\n')[0])}
          </summary>
          <pre>{r.output}</pre>
        </details>
      ))}
    </li>
  );
}

export function Chat({ session, changes }: { session: Session; changes: number }) {
  const [messages, setMessages] = useState<ChatMessage[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [text, setText] = useState('');
  const [sending, setSending] = useState(false);
  const [sendError, setSendError] = useState<string | null>(null);
  const working = liveStatus(session.status) === 'working';
  const end = useRef<HTMLDivElement>(null);

  const read = useCallback(() => {
    api<MessagePage>('GET', `${sessionPath(session.name)}/messages?limit=1000`)
      .then((page) => {
        setMessages(page.messages);
        setError(null);
      })
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [session.name]);

  useEffect(read, [read, changes]);
  // Often while the agent works; slowly otherwise, since the agent's transcript can be written
  // after the status event that said its turn ended.
  useEffect(() => {
    const t = setInterval(read, working ? POLL_MS : IDLE_POLL_MS);
    return () => clearInterval(t);
  }, [working, read]);
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'end' });
  }, [messages?.length]);

  const send = async (e: FormEvent) => {
    e.preventDefault();
    setSending(true);
    setSendError(null);
    try {
      await api('POST', `${sessionPath(session.name)}/input`, { text });
      setText('');
      read();
    } catch (err) {
      setSendError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setSending(false);
    }
  };

  return (
    <div className="chat">
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {messages === null && !error && <p className="state">Loading the conversation…</p>}
      {messages !== null && messages.length === 0 && <p className="state">No messages yet.</p>}
      {messages !== null && messages.length > 0 && (
        <ol className="messages" aria-label="Conversation">
          {messages.map((m, i) => (
            <Bubble key={i} message={m} />
          ))}
        </ol>
      )}
      <div ref={end} />
      <form className="send" onSubmit={send}>
        <label htmlFor="follow-up">Send a follow-up</label>
        <textarea id="follow-up" rows={3} value={text} onChange={(e) => setText(e.target.value)} />
        {sendError && (
          <p className="error" role="alert">
            {sendError}
          </p>
        )}
        <button type="submit" disabled={sending || text.trim() === ''}>
          {sending ? 'Sending…' : 'Send'}
        </button>
      </form>
    </div>
  );
}
