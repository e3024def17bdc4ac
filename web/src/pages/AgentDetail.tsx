import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { ApiError, del, get, patch, post } from '../api/client';
import type { AccessLogPage, AgentConfig, AgentDetail, CommandResult, MetricsSummary, ReloadResult, ValidateResult } from '../api/types';
import { canAdmin, canEdit } from '../api/types';
import { LineChart } from '../charts';
import { useEvents } from '../events';
import { ago, ConfirmButton, Empty, ErrorBox, Field, formatLabels, Labels, Loaded, Loading, PageHeader, parseLabels, shortId, StateBadge, useLoad, when } from '../ui';
import { useWorkspace } from '../workspace';
import { applyEvent } from './Fleet';
import { AccessLogTable } from './AccessLogs';

// range → minutes, and the series step that gives about 15–30 points
const ranges = { '15m': [15, '1m'], '1h': [60, '2m'], '6h': [360, '15m'], '24h': [1440, '1h'] } as const;

export function AgentDetailPage() {
  const { agentId = '' } = useParams();
  const { base, role } = useWorkspace();
  const state = useLoad(() => get<AgentDetail>(`/agents/${agentId}`), [agentId]);
  useEvents((event) => {
    if (state.data && event.data.agent_id === agentId) state.setData(applyEvent(state.data, event));
  });
  return (
    <Loaded state={state}>
      {(agent) => (
        <>
          <p className="crumbs">
            <Link to={`${base}/fleet`}>Fleet</Link> / {agent.name}
          </p>
          <PageHeader title={agent.name}>
            <StateBadge state={agent.state} />
          </PageHeader>
          <div className="grid">
            <Overview agent={agent} onChange={state.reload} editable={canEdit(role)} />
            <Health agent={agent} />
          </div>
          <Actions agent={agent} role={role} onDone={state.reload} />
          <Metrics agentId={agent.id} />
          <RecentLogs agentId={agent.id} />
          <ConfigPreview agentId={agent.id} configId={agent.config.desired_config_id} />
        </>
      )}
    </Loaded>
  );
}

function Overview({ agent, onChange, editable }: { agent: AgentDetail; onChange: () => void; editable: boolean }) {
  const [editing, setEditing] = useState(false);
  const [labels, setLabels] = useState(formatLabels(agent.labels));
  const [error, setError] = useState<unknown>(null);
  const c = agent.config;
  return (
    <section className="card" aria-labelledby="overview">
      <h2 id="overview">Overview</h2>
      <dl className="props">
        <dt>Hostname</dt>
        <dd>{agent.hostname ?? 'not enrolled yet'}</dd>
        <dt>Address</dt>
        <dd>{agent.ip_address ?? '—'}</dd>
        <dt>Version</dt>
        <dd>{agent.version ?? '—'}</dd>
        <dt>Deployment</dt>
        <dd>{agent.deployment_mode}</dd>
        <dt>Capabilities</dt>
        <dd>{agent.capabilities.join(', ') || '—'}</dd>
        <dt>Last seen</dt>
        <dd title={when(agent.last_seen_at)}>{ago(agent.last_seen_at)}</dd>
        <dt>Labels</dt>
        <dd>
          {editing ? (
            <form
              className="inline"
              onSubmit={async (e) => {
                e.preventDefault();
                try {
                  await patch(`/agents/${agent.id}`, { labels: parseLabels(labels) });
                  setEditing(false);
                  setError(null);
                  onChange();
                } catch (err) {
                  setError(err);
                }
              }}
            >
              <Field label="Labels (key=value, comma separated)" error={error instanceof ApiError ? error.field('labels') : undefined}>
                {(id, d) => <input id={id} aria-describedby={d} value={labels} onChange={(e) => setLabels(e.target.value)} />}
              </Field>
              <button type="submit" className="primary">Save labels</button>
              <button type="button" onClick={() => setEditing(false)}>Cancel</button>
              {error && !(error instanceof ApiError && error.field('labels')) ? <ErrorBox error={error} /> : null}
            </form>
          ) : (
            <>
              <Labels labels={agent.labels} />{' '}
              {editable && (
                <button type="button" className="link" onClick={() => setEditing(true)}>
                  Edit
                </button>
              )}
            </>
          )}
        </dd>
        <dt>Desired config</dt>
        <dd>
          v{c.desired_config_version} <code title={c.desired_config_id ?? ''}>{shortId(c.desired_config_id)}</code>
        </dd>
        <dt>Applied config</dt>
        <dd>
          v{c.applied_config_version} <code title={c.applied_config_id ?? ''}>{shortId(c.applied_config_id)}</code>{' '}
          <span data-in-sync={String(c.in_sync)} className={c.in_sync ? 'ok' : 'warn'}>
            {c.in_sync ? 'in sync' : 'out of sync'}
          </span>
        </dd>
        <dt>Last apply</dt>
        <dd>
          {c.last_apply_status ?? '—'} {c.last_apply_at ? `(${ago(c.last_apply_at)})` : ''}
          {c.last_apply_error && <pre className="output small">{c.last_apply_error}</pre>}
        </dd>
      </dl>
    </section>
  );
}

function Health({ agent }: { agent: AgentDetail }) {
  const h = agent.health;
  return (
    <section className="card" aria-labelledby="health">
      <h2 id="health">Health</h2>
      {!h ? (
        <Empty title="No health report yet">The agent reports every few seconds once it is connected.</Empty>
      ) : (
        <dl className="props">
          <dt>nginx</dt>
          <dd className={h.nginx_status === 'running' ? 'ok' : 'warn'}>{h.nginx_status}</dd>
          <dt>Uptime</dt>
          <dd>{Math.round(h.nginx_uptime_seconds / 60)} min</dd>
          <dt>Connections</dt>
          <dd>{h.active_connections}</dd>
          <dt>Requests/s</dt>
          <dd>{h.requests_per_second.toFixed(2)}</dd>
          <dt>CPU</dt>
          <dd>{h.cpu_percent.toFixed(1)} %</dd>
          <dt>Memory</dt>
          <dd>{h.memory_used_mb} MiB</dd>
          <dt>Reported</dt>
          <dd>{ago(h.reported_at)}</dd>
        </dl>
      )}
    </section>
  );
}

type Outcome = { action: string; success: boolean; message: string; output?: string };

function Actions({ agent, role, onDone }: { agent: AgentDetail; role: string; onDone: () => void }) {
  const navigate = useNavigate();
  const { base } = useWorkspace();
  const [busy, setBusy] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (action: string, call: () => Promise<Outcome>) => {
    setBusy(action);
    setError(null);
    setOutcome(null);
    try {
      setOutcome(await call());
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  const editor = canEdit(role as never);
  const admin = canAdmin(role as never);
  if (!editor) return null;
  return (
    <section className="card" aria-labelledby="actions">
      <h2 id="actions">Actions</h2>
      <div className="button-row">
        <button type="button" disabled={!!busy} onClick={() => run('Reload', async () => ({ action: 'Reload', ...(await post<ReloadResult>(`/agents/${agent.id}/reload`)) }))}>
          {busy === 'Reload' ? 'Reloading…' : 'Reload nginx'}
        </button>
        {admin && (
          <>
            <button type="button" disabled={!!busy} onClick={() => run('Validate', async () => { const r = await post<ValidateResult>(`/agents/${agent.id}/validate-config`); return { action: 'Validate', success: r.success, message: r.message, output: r.output }; })}>
              {busy === 'Validate' ? 'Validating…' : 'Validate desired config'}
            </button>
            <ConfirmButton label="Restart" className="" question={`Restart nginx on ${agent.name}? Connections in flight finish first.`} onConfirm={() => run('Restart', async () => ({ action: 'Restart', ...(await post<CommandResult>(`/agents/${agent.id}/restart`)) }))} disabled={!!busy} />
            <ConfirmButton label="Stop" question={`Stop nginx on ${agent.name}? It stays stopped until you restart it.`} onConfirm={() => run('Stop', async () => ({ action: 'Stop', ...(await post<CommandResult>(`/agents/${agent.id}/stop`)) }))} disabled={!!busy} />
            <ConfirmButton
              label="Delete agent"
              question={`Delete ${agent.name}? Its credential stops working and it disconnects.`}
              onConfirm={async () => {
                await del(`/agents/${agent.id}`);
                navigate(`${base}/fleet`);
              }}
            />
          </>
        )}
      </div>
      {error ? <ErrorBox error={error} /> : null}
      {outcome && (
        <div className={outcome.success ? 'result ok-box' : 'result error-box'} role="status" data-action={outcome.action} data-success={String(outcome.success)}>
          <strong>{outcome.action}: {outcome.success ? 'succeeded' : 'failed'}</strong> — {outcome.message}
          {outcome.output && <pre className="output">{outcome.output}</pre>}
        </div>
      )}
    </section>
  );
}

/** Traffic of the agent over a chosen range (from the Api's per-minute rollups of its access logs), with a series per step. */
function Metrics({ agentId }: { agentId: string }) {
  const [range, setRange] = useState<keyof typeof ranges>('1h');
  const state = useLoad(async () => {
    const to = new Date();
    const [minutes, step] = ranges[range];
    const from = new Date(to.getTime() - minutes * 60000);
    return await get<MetricsSummary>(`/agents/${agentId}/metrics`, { from: iso(from), to: iso(to), step });
  }, [agentId, range]);
  return (
    <section className="card" aria-labelledby="metrics">
      <div className="section-header">
        <h2 id="metrics">Metrics</h2>
        <div className="segmented" role="group" aria-label="Range">
          {(Object.keys(ranges) as (keyof typeof ranges)[]).map((r) => (
            <button key={r} type="button" aria-pressed={r === range} onClick={() => setRange(r)}>
              {r}
            </button>
          ))}
        </div>
      </div>
      <Loaded state={state}>
        {(metrics) => (
          <>
            <div className="stats">
              <Stat label="Requests" value={metrics.requests_total} />
              <Stat label="Requests/s" value={rate(metrics.requests_per_second)} />
              <Stat label="Error rate" value={`${(metrics.error_rate * 100).toFixed(2)} %`} />
              <Stat label="Connections" value={metrics.active_connections} />
            </div>
            {metrics.series && metrics.series.length > 0 ? (
              <div className="charts">
                {(['requests_per_second', 'error_rate', 'active_connections', 'requests_total'] as const).map((name) => (
                  <LineChart key={name} title={name.replaceAll('_', ' ')} points={metrics.series!.map((s) => ({ t: new Date(String(s.timestamp)).getTime(), v: s[name] }))} />
                ))}
              </div>
            ) : (
              <p className="muted">No samples in this range.</p>
            )}
          </>
        )}
      </Loaded>
    </section>
  );
}

/** Three significant digits below 100 (a quiet hour is 0.00111/s, not 0), whole numbers above. */
const rate = (perSecond: number) => (perSecond >= 100 ? Math.round(perSecond).toLocaleString() : String(Number(perSecond.toPrecision(3))));

function Stat({ label, value }: { label: string; value: number | string }) {
  return (
    <div className="stat" data-stat={label} data-value={value}>
      <div className="muted small">{label}</div>
      <div className="stat-value">{typeof value === 'number' ? value.toLocaleString() : value}</div>
    </div>
  );
}

function RecentLogs({ agentId }: { agentId: string }) {
  const { workspace, base } = useWorkspace();
  const state = useLoad(() => get<AccessLogPage>(`/workspaces/${workspace.id}/access-logs`, { agent_id: agentId, limit: 20 }), [agentId]);
  return (
    <section className="card" aria-labelledby="recent-logs">
      <div className="section-header">
        <h2 id="recent-logs">Recent access logs</h2>
        <Link to={`${base}/access-logs?agent_id=${agentId}`}>All access logs</Link>
      </div>
      <Loaded state={state}>
        {(page) => (page.data.length === 0 ? <Empty title="No requests logged yet" /> : <AccessLogTable entries={page.data} />)}
      </Loaded>
    </section>
  );
}

function ConfigPreview({ agentId, configId }: { agentId: string; configId: string | null }) {
  const [open, setOpen] = useState(false);
  return (
    <section className="card" aria-labelledby="config">
      <div className="section-header">
        <h2 id="config">Rendered config</h2>
        <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? 'Hide' : 'Show nginx config'}
        </button>
      </div>
      {open && <ConfigBody agentId={agentId} configId={configId} />}
    </section>
  );
}

function ConfigBody({ agentId, configId }: { agentId: string; configId: string | null }) {
  const state = useLoad(() => get<AgentConfig>(`/agents/${agentId}/config`), [agentId, configId]);
  if (state.loading && !state.data) return <Loading what="Rendering" />;
  return (
    <Loaded state={state}>
      {(config) => (
        <>
          <p className="muted small">
            Desired config v{config.version} <code>{shortId(config.config_id)}</code>, rendered as the agent would (private keys redacted).
          </p>
          {config.warnings.length > 0 && (
            <ul className="warn">
              {config.warnings.map((w) => (
                <li key={w}>{w}</li>
              ))}
            </ul>
          )}
          <pre className="output config" tabIndex={0} aria-label="nginx config">
            {config.nginx_config}
          </pre>
        </>
      )}
    </Loaded>
  );
}

export const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
