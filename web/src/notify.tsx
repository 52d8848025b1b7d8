// A browser notification when a session starts waiting for input while the page is open (in any
// tab or in the background), once the user has allowed notifications with the header's button;
// and, where the browser has a push service, a Web Push subscription so the daemon's
// notifications arrive while the page is closed too (the service worker shows them).
import { useCallback, useEffect, useState } from 'react';
import { api, type Schemas, type SessionEvent } from './api/client';
import { useEvents } from './api/events';
import { navigate, sessionUrl } from './router';
import { base64UrlBytes } from './sessions/push';

const supported = () => typeof window !== 'undefined' && 'Notification' in window;

export function useWaitingNotifications() {
  const onEvent = useCallback((event: SessionEvent) => {
    if (!supported() || Notification.permission !== 'granted') return;
    if (event.type !== 'status-changed' || event.to !== 'waiting-for-input') return;
    const name = event.session_name;
    // The tag folds repeats for one session into one notification.
    const n = new Notification(`${name} needs you`, { body: 'The agent is waiting for your input.', tag: `waiting-${name}` });
    n.onclick = () => {
      window.focus();
      navigate(sessionUrl(name));
      n.close();
    };
  }, []);
  useEvents(onEvent);
}


/** Subscribe this browser to the daemon's pushes; `false` where it cannot (no push service). */
async function subscribePush(): Promise<boolean> {
  if (!('serviceWorker' in navigator) || !('PushManager' in window)) return false;
  try {
    const { public_key } = await api<Schemas['PushKey']>('GET', '/api/push/key');
    const reg = await navigator.serviceWorker.ready;
    const sub =
      (await reg.pushManager.getSubscription()) ??
      (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlBytes(public_key) }));
    await api('POST', '/api/push/subscriptions', sub.toJSON());
    return true;
  } catch {
    return false;
  }
}

/** The header's switch: asks for permission once, then says notifications are on (and whether
 * they reach this device while the page is closed). */
export function NotifyButton() {
  const [permission, setPermission] = useState(() => (supported() ? Notification.permission : 'denied'));
  const [pushed, setPushed] = useState<boolean | null>(null);
  useEffect(() => {
    // Kept in step with the daemon at every load (the same subscription again is a no-op).
    if (permission === 'granted') void subscribePush().then(setPushed);
  }, [permission]);
  if (permission === 'denied') return null;
  if (permission === 'granted')
    return (
      <span
        className="conn"
        data-testid="notify"
        data-push={pushed === true ? 'on' : 'off'}
        title={
          pushed
            ? 'Notifications on this device, also while the page is closed'
            : 'Notifications while this page is open (this browser has no push service here)'
        }
      >
        notifications on
      </span>
    );
  return (
    <button
      className="quiet"
      data-testid="notify"
      onClick={() => {
        void Notification.requestPermission().then(setPermission);
      }}
    >
      Notify me
    </button>
  );
}
