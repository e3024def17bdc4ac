import { useState } from 'react';
import { useFeed } from '../events';
import { Empty, PageHeader } from '../ui';

export function EventsPage() {
  const { recent, state } = useFeed();
  const [filter, setFilter] = useState('');
  const [paused, setPaused] = useState<typeof recent | null>(null);
  const shown = (paused ?? recent).filter((e) => !filter || e.type.startsWith(filter));
  const types = [...new Set(recent.map((e) => e.type))].sort();
  return (
    <>
      <PageHeader title="Events">
        <label>
          <span className="visually-hidden">Event type</span>
          <select aria-label="Event type" value={filter} onChange={(e) => setFilter(e.target.value)}>
            <option value="">all types</option>
            {types.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <button type="button" aria-pressed={paused !== null} onClick={() => setPaused(paused ? null : recent)}>
          {paused ? 'Resume' : 'Pause'}
        </button>
      </PageHeader>
      {state === 'unavailable' && <p className="notice" role="status">The event feed is not reachable; reconnecting with backoff.</p>}
      {shown.length === 0 ? (
        <Empty title={state === 'live' ? 'Waiting for events' : 'No events yet'}>Agent connections, config applies and alerts of this workspace appear here as they happen.</Empty>
      ) : (
        <ol className="feed-list" aria-live="polite">
          {shown.map((e, i) => (
            <li key={`${e.timestamp}-${i}-${e.type}`} data-event-type={e.type}>
              <span className="muted small">{new Date(e.timestamp).toLocaleTimeString()}</span> <strong>{e.type}</strong> <Summary data={e.data} />
            </li>
          ))}
        </ol>
      )}
    </>
  );
}

function Summary({ data }: { data: Record<string, unknown> }) {
  const parts = Object.entries(data)
    .filter(([k]) => k !== 'workspace_id')
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return <code className="small">{parts.join(' ')}</code>;
}
