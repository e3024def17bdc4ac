import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { ApiError, del, get, patch, post } from '../api/client';
import type { Agent, Certificate, FeedEvent, Paged, Upstream, VirtualHost } from '../api/types';
import { canEdit } from '../api/types';
import { useEvents } from '../events';
import { ConfirmButton, Empty, Field, fieldErrors, Labels, Loaded, PageHeader, Pager, shortId, StateBadge, useLoad } from '../ui';
import { useWorkspace } from '../workspace';

export function VirtualHostsPage() {
  const { workspace, base, role } = useWorkspace();
  const [page, setPage] = useState(1);
  const state = useLoad(() => get<Paged<VirtualHost>>(`/workspaces/${workspace.id}/virtual-hosts`, { page, per_page: 20 }), [workspace.id, page]);
  return (
    <>
      <PageHeader title="Virtual hosts">
        {canEdit(role) && (
          <Link className="button primary" to={`${base}/virtual-hosts/new`}>
            New virtual host
          </Link>
        )}
      </PageHeader>
      <Loaded state={state}>
        {(list) =>
          list.data.length === 0 ? (
            <Empty title="No virtual hosts yet">A virtual host is one nginx server block: names, port, TLS and locations, served by the agents it targets.</Empty>
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Name</th>
                      <th>Server name</th>
                      <th>Port</th>
                      <th>TLS</th>
                      <th>Targets</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.data.map((v) => (
                      <tr key={v.id}>
                        <td>
                          <Link to={`${base}/virtual-hosts/${v.id}`}>{v.name}</Link>
                        </td>
                        <td>{v.server_name}</td>
                        <td>{v.listen_port}</td>
                        <td>{v.ssl_enabled ? (v.http2_enabled ? 'TLS, HTTP/2' : 'TLS') : '—'}</td>
                        <td>{v.target_agents.type === 'all' ? 'all agents' : v.target_agents.type === 'selector' ? <code>{v.target_agents.label_selector}</code> : `${v.target_agents.agent_ids?.length ?? 0} agents`}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager page={page} perPage={20} total={list.meta.total} onPage={setPage} />
            </>
          )
        }
      </Loaded>
    </>
  );
}

type Target = 'upstream' | 'proxy_pass' | 'root';
interface LocationDraft {
  path: string;
  target: Target;
  upstream_id: string;
  proxy_pass: string;
  root: string;
  index: string;
  headers: { name: string; value: string; always: boolean }[];
  // kept as they are: the form does not edit them, PATCH sends them back unchanged
  rewrite_rules: unknown[];
  custom_directives: Record<string, string>;
}
const newLocation = (): LocationDraft => ({ path: '/', target: 'upstream', upstream_id: '', proxy_pass: '', root: '', index: '', headers: [], rewrite_rules: [], custom_directives: {} });

export function VirtualHostEditPage() {
  const { id = 'new' } = useParams();
  const { workspace } = useWorkspace();
  const state = useLoad(async () => {
    const [vhost, upstreams, certificates] = await Promise.all([
      id === 'new' ? Promise.resolve(null) : get<VirtualHost>(`/virtual-hosts/${id}`),
      get<Paged<Upstream>>(`/workspaces/${workspace.id}/upstreams`, { per_page: 100 }),
      get<Paged<Certificate>>(`/workspaces/${workspace.id}/certificates`, { per_page: 100 }),
    ]);
    return { vhost, upstreams: upstreams.data, certificates: certificates.data };
  }, [id, workspace.id]);
  // Lives above the form: creating navigates to the new id and reloads the form, the rollout keeps listening.
  const [rollout, setRollout] = useState<RolloutStart | null>(null);
  return (
    <>
      <Rollout start={rollout} />
      <Loaded state={state}>{(d) => <VirtualHostForm key={d.vhost?.id ?? 'new'} vhost={d.vhost} upstreams={d.upstreams} certificates={d.certificates} onSaved={setRollout} />}</Loaded>
    </>
  );
}

function VirtualHostForm({ vhost, upstreams, certificates, onSaved }: { vhost: VirtualHost | null; upstreams: Upstream[]; certificates: Certificate[]; onSaved: (rollout: RolloutStart) => void }) {
  const { workspace, base, role } = useWorkspace();
  const navigate = useNavigate();
  const editable = canEdit(role);
  const [name, setName] = useState(vhost?.name ?? '');
  const [serverName, setServerName] = useState(vhost?.server_name ?? '');
  const [port, setPort] = useState(String(vhost?.listen_port ?? 80));
  const [ssl, setSsl] = useState(vhost?.ssl_enabled ?? false);
  const [certificateId, setCertificateId] = useState(vhost?.ssl_certificate_id ?? '');
  const [http2, setHttp2] = useState(vhost?.http2_enabled ?? false);
  const [http3, setHttp3] = useState(vhost?.http3_enabled ?? false);
  const [targetType, setTargetType] = useState<'all' | 'selector' | 'agents'>(vhost?.target_agents.type ?? 'all');
  const [selector, setSelector] = useState(vhost?.target_agents.label_selector ?? '');
  const [agentIds, setAgentIds] = useState<string[]>(vhost?.target_agents.agent_ids ?? []);
  const [locations, setLocations] = useState<LocationDraft[]>(
    vhost?.locations.map((l) => ({
      path: l.path,
      target: l.upstream_id ? 'upstream' : l.proxy_pass ? 'proxy_pass' : l.root ? 'root' : 'upstream',
      upstream_id: l.upstream_id ?? '',
      proxy_pass: l.proxy_pass ?? '',
      root: l.root ?? '',
      index: l.index ?? '',
      headers: l.custom_headers.map((h) => ({ name: h.name, value: h.value, always: h.always })),
      rewrite_rules: l.rewrite_rules,
      custom_directives: l.custom_directives,
    })) ?? [{ ...newLocation(), upstream_id: upstreams[0]?.id ?? '' }],
  );
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const matched = useRef<Agent[]>([]);
  const { fe, Rest } = fieldErrors(error);
  const setLocation = (i: number, change: Partial<LocationDraft>) => setLocations(locations.map((l, j) => (j === i ? { ...l, ...change } : l)));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = {
      name,
      server_name: serverName,
      listen_port: port.trim() === '' ? null : Number(port),
      ssl_enabled: ssl,
      ssl_certificate_id: ssl && certificateId ? certificateId : null,
      http2_enabled: http2,
      http3_enabled: http3,
      target_agents: targetType === 'all' ? { type: 'all' } : targetType === 'selector' ? { type: 'selector', label_selector: selector } : { type: 'agents', agent_ids: agentIds },
      locations: locations.map((l) => ({
        path: l.path,
        upstream_id: l.target === 'upstream' ? l.upstream_id || null : null,
        proxy_pass: l.target === 'proxy_pass' ? l.proxy_pass : null,
        root: l.target === 'root' ? l.root : null,
        index: l.index || null,
        custom_headers: l.headers,
        rewrite_rules: l.rewrite_rules,
        custom_directives: l.custom_directives,
      })),
      custom_directives: vhost?.custom_directives ?? {},
    };
    const since = Date.now();
    try {
      const saved = vhost ? await patch<VirtualHost>(`/virtual-hosts/${vhost.id}`, body) : await post<VirtualHost>(`/workspaces/${workspace.id}/virtual-hosts`, body);
      onSaved({ since, agents: matched.current });
      if (!vhost) navigate(`${base}/virtual-hosts/${saved.id}`, { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <p className="crumbs">
        <Link to={`${base}/virtual-hosts`}>Virtual hosts</Link> / {vhost?.name ?? 'new'}
      </p>
      <PageHeader title={vhost ? `Virtual host ${vhost.name}` : 'New virtual host'}>
        {vhost && editable && (
          <ConfirmButton
            label="Delete"
            question={`Delete the virtual host "${vhost.name}"? Its agents stop serving ${vhost.server_name}.`}
            onConfirm={async () => {
              await del(`/virtual-hosts/${vhost.id}`);
              navigate(`${base}/virtual-hosts`);
            }}
          />
        )}
      </PageHeader>
      <form className="card" onSubmit={submit} aria-label="Virtual host" noValidate>
        <fieldset disabled={!editable}>
          <div className="row">
            <Field label="Name" error={fe('name')}>
              {(id, d) => <input id={id} aria-describedby={d} name="name" value={name} onChange={(e) => setName(e.target.value)} />}
            </Field>
            <Field label="Server name" error={fe('server_name')} hint="Space-separated host names, e.g. example.com www.example.com">
              {(id, d) => <input id={id} aria-describedby={d} name="server_name" value={serverName} onChange={(e) => setServerName(e.target.value)} />}
            </Field>
            <Field label="Listen port" error={fe('listen_port')}>
              {(id, d) => <input id={id} aria-describedby={d} name="listen_port" type="number" value={port} onChange={(e) => setPort(e.target.value)} />}
            </Field>
          </div>
          <div className="row">
            <label className="check">
              <input type="checkbox" checked={ssl} onChange={(e) => setSsl(e.target.checked)} /> TLS
            </label>
            {fe('ssl_enabled') && <div className="field-error">{fe('ssl_enabled')}</div>}
            {ssl && (
              <Field label="Certificate" error={fe('ssl_certificate_id')}>
                {(id, d) => (
                  <select id={id} aria-describedby={d} value={certificateId} onChange={(e) => setCertificateId(e.target.value)}>
                    <option value="">Choose a certificate</option>
                    {certificates.map((c) => (
                      <option key={c.id} value={c.id}>
                        {c.domain} ({c.status})
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            )}
            <label className="check">
              <input type="checkbox" checked={http2} onChange={(e) => setHttp2(e.target.checked)} /> HTTP/2
            </label>
            {fe('http2_enabled') && <div className="field-error">{fe('http2_enabled')}</div>}
            <label className="check">
              <input type="checkbox" checked={http3} onChange={(e) => setHttp3(e.target.checked)} /> HTTP/3
            </label>
          </div>

          <h2>Locations</h2>
          {fe('locations') && <div className="field-error" role="alert">{fe('locations')}</div>}
          {locations.map((l, i) => (
            <div className="location" key={i} role="group" aria-label={`Location ${i + 1}`}>
              <div className="row">
                <Field label="Path" error={fe(`locations[${i}].path`)}>
                  {(id, d) => <input id={id} aria-describedby={d} name={`locations[${i}].path`} value={l.path} onChange={(e) => setLocation(i, { path: e.target.value })} />}
                </Field>
                <Field label="Serves from">
                  {(id) => (
                    <select id={id} value={l.target} onChange={(e) => setLocation(i, { target: e.target.value as Target })}>
                      <option value="upstream">an upstream</option>
                      <option value="proxy_pass">a URL (proxy_pass)</option>
                      <option value="root">files (root)</option>
                    </select>
                  )}
                </Field>
                {l.target === 'upstream' && (
                  <Field label="Upstream" error={fe(`locations[${i}].upstream_id`)}>
                    {(id, d) => (
                      <select id={id} aria-describedby={d} name={`locations[${i}].upstream_id`} value={l.upstream_id} onChange={(e) => setLocation(i, { upstream_id: e.target.value })}>
                        <option value="">Choose an upstream</option>
                        {upstreams.map((u) => (
                          <option key={u.id} value={u.id}>
                            {u.name}
                          </option>
                        ))}
                      </select>
                    )}
                  </Field>
                )}
                {l.target === 'proxy_pass' && (
                  <Field label="Proxy to URL" error={fe(`locations[${i}].proxy_pass`)}>
                    {(id, d) => <input id={id} aria-describedby={d} name={`locations[${i}].proxy_pass`} value={l.proxy_pass} onChange={(e) => setLocation(i, { proxy_pass: e.target.value })} placeholder="http://10.0.0.5:8080" />}
                  </Field>
                )}
                {l.target === 'root' && (
                  <>
                    <Field label="Root directory" error={fe(`locations[${i}].root`)}>
                      {(id, d) => <input id={id} aria-describedby={d} value={l.root} onChange={(e) => setLocation(i, { root: e.target.value })} />}
                    </Field>
                    <Field label="Index" error={fe(`locations[${i}].index`)}>
                      {(id, d) => <input id={id} aria-describedby={d} value={l.index} onChange={(e) => setLocation(i, { index: e.target.value })} placeholder="index.html" />}
                    </Field>
                  </>
                )}
              </div>
              {l.headers.map((h, k) => (
                <div className="row" key={k}>
                  <Field label={`Header ${k + 1} name`} error={fe(`locations[${i}].custom_headers[${k}].name`)}>
                    {(id, d) => <input id={id} aria-describedby={d} value={h.name} onChange={(e) => setLocation(i, { headers: l.headers.map((x, m) => (m === k ? { ...x, name: e.target.value } : x)) })} />}
                  </Field>
                  <Field label={`Header ${k + 1} value`} error={fe(`locations[${i}].custom_headers[${k}].value`)}>
                    {(id, d) => <input id={id} aria-describedby={d} value={h.value} onChange={(e) => setLocation(i, { headers: l.headers.map((x, m) => (m === k ? { ...x, value: e.target.value } : x)) })} />}
                  </Field>
                  {editable && (
                    <button type="button" className="link" onClick={() => setLocation(i, { headers: l.headers.filter((_, m) => m !== k) })}>
                      Remove header
                    </button>
                  )}
                </div>
              ))}
              {editable && (
                <div className="button-row">
                  <button type="button" onClick={() => setLocation(i, { headers: [...l.headers, { name: '', value: '', always: false }] })}>
                    Add response header
                  </button>
                  {locations.length > 1 && (
                    <button type="button" className="link" onClick={() => setLocations(locations.filter((_, j) => j !== i))}>
                      Remove location {i + 1}
                    </button>
                  )}
                </div>
              )}
            </div>
          ))}
          {editable && (
            <button type="button" onClick={() => setLocations([...locations, newLocation()])}>
              Add location
            </button>
          )}

          <h2>Target agents</h2>
          <div className="row">
            <Field label="Served by" error={fe('target_agents.type') ?? fe('target_agents')}>
              {(id, d) => (
                <select id={id} aria-describedby={d} value={targetType} onChange={(e) => setTargetType(e.target.value as typeof targetType)}>
                  <option value="all">all agents of the workspace</option>
                  <option value="selector">agents matching a label selector</option>
                  <option value="agents">chosen agents</option>
                </select>
              )}
            </Field>
            {targetType === 'selector' && (
              <Field label="Label selector" error={fe('target_agents.label_selector')} hint="env=production, tier in (web,api)">
                {(id, d) => <input id={id} aria-describedby={d} name="target_agents.label_selector" value={selector} onChange={(e) => setSelector(e.target.value)} />}
              </Field>
            )}
          </div>
          <TargetPreview type={targetType} selector={selector} agentIds={agentIds} onAgentIds={setAgentIds} editable={editable} fe={fe} onMatch={(agents) => (matched.current = agents)} />
        </fieldset>
        <Rest />
        {editable && (
          <div className="form-actions">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Saving…' : vhost ? 'Save virtual host' : 'Create virtual host'}
            </button>
          </div>
        )}
      </form>
    </>
  );
}

/** Which agents the target selects, asked live from the Api (its selector logic, not a copy of it). */
function TargetPreview({ type, selector, agentIds, onAgentIds, editable, fe, onMatch }: { type: string; selector: string; agentIds: string[]; onAgentIds: (ids: string[]) => void; editable: boolean; fe: (path: string) => string | undefined; onMatch: (agents: Agent[]) => void }) {
  const { workspace } = useWorkspace();
  const [debounced, setDebounced] = useState(selector);
  useEffect(() => {
    const timer = window.setTimeout(() => setDebounced(selector), 300);
    return () => window.clearTimeout(timer);
  }, [selector]);
  const state = useLoad(async () => {
    const all = await get<Paged<Agent>>(`/workspaces/${workspace.id}/agents`, { per_page: 100, label_selector: type === 'selector' ? debounced : undefined });
    return all.data;
  }, [workspace.id, type, type === 'selector' ? debounced : '']);
  const agents = state.data ?? [];
  const selected = type === 'agents' ? agents.filter((a) => agentIds.includes(a.id)) : agents;
  useEffect(() => {
    onMatch(selected);
  });
  if (state.error instanceof ApiError && state.error.field('label_selector')) {
    return <div className="field-error" role="alert">{state.error.field('label_selector')}</div>;
  }
  return (
    <div className="target-preview" aria-live="polite" data-matching={selected.length}>
      {state.loading && !state.data ? (
        <p className="muted">Finding matching agents…</p>
      ) : type === 'agents' ? (
        <>
          {agents.length === 0 && <p className="muted">No agents in this workspace yet.</p>}
          {agents.map((a, i) => (
            <label key={a.id} className="check">
              <input type="checkbox" disabled={!editable} checked={agentIds.includes(a.id)} onChange={(e) => onAgentIds(e.target.checked ? [...agentIds, a.id] : agentIds.filter((x) => x !== a.id))} /> {a.name} <Labels labels={a.labels} />
              {fe(`target_agents.agent_ids[${i}]`) && <span className="field-error">{fe(`target_agents.agent_ids[${i}]`)}</span>}
            </label>
          ))}
        </>
      ) : (
        <>
          <p>
            <strong>{selected.length === 0 ? 'No agent matches' : `${selected.length} agent${selected.length === 1 ? '' : 's'} match${selected.length === 1 ? 'es' : ''}`}</strong>
          </p>
          <ul className="matches">
            {selected.map((a) => (
              <li key={a.id} data-match={a.name}>
                {a.name} <StateBadge state={a.state} /> <Labels labels={a.labels} />
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

interface RolloutStart {
  since: number;
  agents: Agent[];
}

interface RolloutAgent {
  agent: Agent;
  status: 'waiting' | 'applied' | 'failed';
  configId?: string;
  message?: string;
}

/**
 * After a save: each targeted agent's apply, from config.applied events received after the save only — the rollout
 * turns green through the event feed, with no REST polling.
 */
function Rollout({ start }: { start: RolloutStart | null }) {
  const [rows, setRows] = useState<RolloutAgent[]>([]);
  useEffect(() => {
    setRows(start ? start.agents.map((agent) => ({ agent, status: 'waiting' })) : []);
  }, [start]);
  useEvents((event: FeedEvent) => {
    if (event.type !== 'config.applied' || !start) return;
    setRows((current) =>
      current.map((row) =>
        row.agent.id === event.data.agent_id
          ? { ...row, status: event.data.success === true ? 'applied' : 'failed', configId: event.data.config_id as string, message: (event.data.error_message as string) ?? undefined }
          : row,
      ),
    );
  });
  if (!start) return null;
  const done = rows.filter((r) => r.status !== 'waiting').length;
  return (
    <section className="card rollout" aria-labelledby="rollout" data-rollout-done={String(rows.length > 0 && done === rows.length)}>
      <h2 id="rollout">Rollout</h2>
      {rows.length === 0 ? (
        <p className="muted">Saved. No agent is targeted.</p>
      ) : (
        <>
          <p className="muted">
            {done} of {rows.length} targeted agents reported (live from the event feed).
          </p>
          <ul>
            {rows.map((r) => (
              <li key={r.agent.id} data-rollout-agent={r.agent.name} data-status={r.status}>
                {r.agent.name}:{' '}
                {r.status === 'waiting' ? <span className="muted">waiting for the agent…</span> : r.status === 'applied' ? <span className="ok">in sync (config {shortId(r.configId)})</span> : <span className="warn">failed: {r.message}</span>}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
