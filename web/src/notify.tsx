// A browser notification when a session starts waiting for input while the page is open (in any
// tab or in the background), once the user has allowed notifications with the header's button.
import { useCallback, useState } from 'react';
import type { SessionEvent } from './api/client';
import { useEvents } from './api/events';
import { navigate, sessionUrl } from './router';

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

/** The header's switch: asks for permission once, then says notifications are on. */
export function NotifyButton() {
  const [permission, setPermission] = useState(() => (supported() ? Notification.permission : 'denied'));
  if (permission === 'denied') return null;
  if (permission === 'granted')
    return (
      <span className="conn" data-testid="notify" title="A notification when a session waits for you">
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
