// The app's few routes, on the History API (the daemon answers every non-API path with the
// app's shell). No router library: two patterns and a link.
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

export function usePath(): string {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => window.location.pathname,
  );
}

export function navigate(path: string) {
  if (path === window.location.pathname) return;
  window.history.pushState(null, '', path);
  listeners.forEach((l) => l());
}

export type Route = { page: 'list' } | { page: 'new' } | { page: 'session'; name: string } | { page: 'unknown' };

export function route(path: string): Route {
  if (path === '/' || path === '') return { page: 'list' };
  if (path === '/new' || path === '/new/') return { page: 'new' };
  const m = /^\/sessions\/([^/]+)\/?$/.exec(path);
  if (m) {
    try {
      return { page: 'session', name: decodeURIComponent(m[1]) };
    } catch {
      return { page: 'unknown' };
    }
  }
  return { page: 'unknown' };
}

export const sessionUrl = (name: string) => `/sessions/${encodeURIComponent(name)}`;

export function Link({ href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={click} {...rest} />;
}
