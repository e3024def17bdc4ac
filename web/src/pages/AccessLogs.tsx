import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { ApiError, get } from '../api/client';
import type { AccessLogEntry, AccessLogPage } from '../api/types';
import { Empty, ErrorBox, Loading, PageHeader, shortId, when } from '../ui';
import { FilterForm, TextField } from '../forms';
import { useWorkspace } from '../workspace';
import { iso } from './AgentDetail';

const pageSize = 50;

export function AccessLogTable({ entries }: { entries: AccessLogEntry[] }) {
  return (
    <div className="table-wrap">
      <table className="logs">
        <thead>
          <tr>
            <th>Time</th>
            <th>Agent</th>
            <th>Host</th>
            <th>Request</th>
            <th>Status</th>
            <th>Bytes</th>
            <th>ms</th>
            <th>Client</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id} data-log-uri={e.uri ?? ''} data-log-status={e.status}>
              <td title={when(e.timestamp)}>{new Date(String(e.timestamp)).toLocaleTimeString()}</td>
              <td>
                <code>{shortId(e.agent_id).slice(0, 8)}</code>
              </td>
              <td>{e.host}</td>
              <td>
                {e.method} {e.uri}
              </td>
              <td className={e.status >= 500 ? 'warn' : ''}>{e.status}</td>
              <td>{e.body_bytes_sent}</td>
              <td>{e.response_time_ms}</td>
              <td>{e.remote_addr}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

type Filters = { from: string; to: string; status_code: string; host: string; agent_id: string; uri: string };

export function AccessLogsPage() {
  const { workspace } = useWorkspace();
  const [params] = useSearchParams();
  const [draft, setDraft] = useState<Filters>({ from: '', to: '', status_code: '', host: '', agent_id: params.get('agent_id') ?? '', uri: '' });
  const [filters, setFilters] = useState(draft);
  // cursors of the pages before the current one (newest first); the current page's own cursor is the last
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  const [follow, setFollow] = useState(false);
  const [page, setPage] = useState<AccessLogPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      try {
        const to = follow ? new Date() : filters.to ? new Date(filters.to) : new Date();
        const from = filters.from ? new Date(filters.from) : new Date(to.getTime() - 3600000);
        const result = await get<AccessLogPage>(`/workspaces/${workspace.id}/access-logs`, {
          from: iso(from),
          to: iso(to),
          status_code: filters.status_code,
          host: filters.host,
          agent_id: filters.agent_id,
          uri: filters.uri,
          limit: pageSize,
          cursor: follow ? null : cursor,
        });
        if (!stopped) {
          setPage(result);
          setError(null);
        }
      } catch (e) {
        if (!stopped) setError(e);
      } finally {
        if (!stopped) setLoading(false);
      }
    };
    setLoading(true);
    load();
    // Follow mode: the newest page again every 2 s (a tail; nothing else on this screen polls).
    const timer = follow ? window.setInterval(load, 2000) : undefined;
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [workspace.id, filters, cursor, follow]);

  const apply = () => {
    setCursors([null]);
    setFilters(draft);
  };
  const fieldError = (name: string) => (error instanceof ApiError ? error.field(name) : undefined);
  const set = (name: keyof Filters) => (value: string) => setDraft({ ...draft, [name]: value });

  return (
    <>
      <PageHeader title="Access logs">
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
      </PageHeader>
      <FilterForm label="Filter access logs" onApply={apply}>
        <TextField label="From" error={fieldError('from')} type="datetime-local" value={draft.from} onChange={set('from')} disabled={follow} />
        <TextField label="To" error={fieldError('to')} type="datetime-local" value={draft.to} onChange={set('to')} disabled={follow} />
        <TextField label="Status" error={fieldError('status_code')} inputMode="numeric" value={draft.status_code} onChange={set('status_code')} placeholder="500 or 5xx" />
        <TextField label="Host" error={fieldError('host')} value={draft.host} onChange={set('host')} />
        <TextField label="Path" error={fieldError('uri')} value={draft.uri} onChange={set('uri')} placeholder="/api/" />
        <TextField label="Agent id" error={fieldError('agent_id')} value={draft.agent_id} onChange={set('agent_id')} />
      </FilterForm>
      {error ? (
        <ErrorBox error={error} />
      ) : loading && !page ? (
        <Loading />
      ) : !page || page.data.length === 0 ? (
        <Empty title="No requests in this range">{follow ? 'New requests appear here as agents report them.' : 'Widen the range or clear the filters.'}</Empty>
      ) : (
        <>
          <AccessLogTable entries={page.data} />
          {!follow && (
            <nav className="pager" aria-label="Pages">
              <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
                Newer
              </button>
              <span>
                page {cursors.length} · {page.meta.total}
                {page.meta.total_capped ? '+' : ''} matching
              </span>
              <button type="button" disabled={!page.meta.next_cursor} onClick={() => setCursors([...cursors, page.meta.next_cursor ?? null])}>
                Older
              </button>
            </nav>
          )}
        </>
      )}
    </>
  );
}
