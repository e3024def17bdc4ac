import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { session } from './api/client';
import type { FeedEvent } from './api/types';

export type FeedState = 'connecting' | 'live' | 'unavailable';
type Listener = (event: FeedEvent) => void;

interface Feed {
  state: FeedState;
  /** newest first, at most `keep` */
  recent: FeedEvent[];
  subscribe(listener: Listener): () => void;
}

const FeedContext = createContext<Feed | null>(null);
const keep = 500;

/**
 * One WebSocket to /v1/events?token= per workspace: subscribes to every event type of the workspace, reconnects with
 * jittered exponential backoff (1 s → 30 s) and with a fresh access token.
 */
export function EventFeedProvider({ workspaceId, children }: { workspaceId: string; children: ReactNode }) {
  const [state, setState] = useState<FeedState>('connecting');
  const [recent, setRecent] = useState<FeedEvent[]>([]);
  const listeners = useRef(new Set<Listener>());

  useEffect(() => {
    let socket: WebSocket | null = null;
    let timer: number | undefined;
    let attempt = 0;
    let stopped = false;
    setRecent([]);

    const connect = async () => {
      if (stopped) return;
      setState((s) => (s === 'live' ? 'connecting' : s));
      // Access tokens expire: a reconnect after the first attempt refreshes first.
      if (attempt > 0) await session.refresh().catch(() => false);
      const token = session.accessToken;
      if (!token || stopped) return;
      const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
      socket = new WebSocket(`${scheme}://${location.host}/v1/events?token=${encodeURIComponent(token)}`);
      socket.onopen = () => {
        socket?.send(JSON.stringify({ action: 'subscribe', events: ['*'], filter: { workspace_id: workspaceId } }));
      };
      socket.onmessage = (message) => {
        let event: FeedEvent & { error?: { message: string } };
        try {
          event = JSON.parse(String(message.data));
        } catch {
          return;
        }
        if (event.type === 'subscribed') {
          attempt = 0;
          setState('live');
          return;
        }
        if (event.type === 'error' || event.type === 'unsubscribed') return;
        setRecent((list) => [event, ...list].slice(0, keep));
        listeners.current.forEach((listener) => listener(event));
      };
      socket.onclose = () => {
        socket = null;
        if (stopped) return;
        setState('unavailable');
        const delay = Math.min(30000, 1000 * 2 ** attempt) * (0.8 + Math.random() * 0.4);
        attempt++;
        timer = window.setTimeout(connect, delay);
      };
    };
    connect();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      socket?.close();
    };
  }, [workspaceId]);

  const subscribe = useCallback((listener: Listener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);
  const value = useMemo(() => ({ state, recent, subscribe }), [state, recent, subscribe]);
  return <FeedContext.Provider value={value}>{children}</FeedContext.Provider>;
}

export function useFeed(): Feed {
  const feed = useContext(FeedContext);
  if (!feed) throw new Error('useFeed outside EventFeedProvider');
  return feed;
}

/** Calls `handler` for every event (latest handler, no resubscription per render). */
export function useEvents(handler: Listener) {
  const feed = useFeed();
  const latest = useRef(handler);
  latest.current = handler;
  const { subscribe } = feed;
  useEffect(() => subscribe((event) => latest.current(event)), [subscribe]);
}
