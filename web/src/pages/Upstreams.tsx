import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { del, get, patch, post } from '../api/client';
import type { Paged, Upstream } from '../api/types';
import { canEdit } from '../api/types';
import { ConfirmButton, Empty, Field, fieldErrors, Loaded, PageHeader, Pager, useLoad } from '../ui';
import { useWorkspace } from '../workspace';

export function UpstreamsPage() {
  const { workspace, base, role } = useWorkspace();
  const [page, setPage] = useState(1);
  const state = useLoad(() => get<Paged<Upstream>>(`/workspaces/${workspace.id}/upstreams`, { page, per_page: 20 }), [workspace.id, page]);
  return (
    <>
      <PageHeader title="Upstreams">
        {canEdit(role) && (
          <Link className="button primary" to={`${base}/upstreams/new`}>
            New upstream
          </Link>
        )}
      </PageHeader>
      <Loaded state={state}>
        {(list) =>
          list.data.length === 0 ? (
            <Empty title="No upstreams yet">An upstream is a group of backend servers that virtual host locations proxy to.</Empty>
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Name</th>
                      <th>Algorithm</th>
                      <th>Servers</th>
                      <th>Health check</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.data.map((u) => (
                      <tr key={u.id}>
                        <td>
                          <Link to={`${base}/upstreams/${u.id}`}>{u.name}</Link>
                        </td>
                        <td>{u.algorithm.replaceAll('_', ' ')}</td>
                        <td>{u.servers.map((s) => s.address).join(', ')}</td>
                        <td>{u.health_check?.enabled ? `${u.health_check.path} every ${u.health_check.interval}s` : 'off'}</td>
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

interface ServerDraft {
  address: string;
  weight: string;
  backup: boolean;
  down: boolean;
  max_fails: string;
  fail_timeout: string;
}
const newServer = (): ServerDraft => ({ address: '', weight: '1', backup: false, down: false, max_fails: '3', fail_timeout: '30' });
const algorithms = ['round_robin', 'least_connections', 'ip_hash', 'weighted_round_robin'] as const;

export function UpstreamEditPage() {
  const { id = 'new' } = useParams();
  const state = useLoad(async () => (id === 'new' ? null : get<Upstream>(`/upstreams/${id}`)), [id]);
  return <Loaded state={state}>{(upstream) => <UpstreamForm key={upstream?.id ?? 'new'} upstream={upstream} />}</Loaded>;
}

function UpstreamForm({ upstream }: { upstream: Upstream | null }) {
  const { workspace, base, role } = useWorkspace();
  const navigate = useNavigate();
  const editable = canEdit(role);
  const [name, setName] = useState(upstream?.name ?? '');
  const [algorithm, setAlgorithm] = useState<string>(upstream?.algorithm ?? 'round_robin');
  const [keepalive, setKeepalive] = useState(String(upstream?.keepalive_connections ?? 32));
  const [servers, setServers] = useState<ServerDraft[]>(
    upstream?.servers.map((s) => ({ address: s.address, weight: String(s.weight), backup: s.backup, down: s.down, max_fails: String(s.max_fails), fail_timeout: String(s.fail_timeout) })) ?? [newServer()],
  );
  const hc = upstream?.health_check;
  const [checkEnabled, setCheckEnabled] = useState(hc?.enabled ?? false);
  const [checkPath, setCheckPath] = useState(hc?.path ?? '/health');
  const [checkInterval, setCheckInterval] = useState(String(hc?.interval ?? 10));
  const [checkTimeout, setCheckTimeout] = useState(String(hc?.timeout ?? 5));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const { fe, Rest } = fieldErrors(error);

  const setServer = (i: number, change: Partial<ServerDraft>) => setServers(servers.map((s, j) => (j === i ? { ...s, ...change } : s)));
  const num = (text: string) => (text.trim() === '' ? null : Number(text));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    const body = {
      name,
      algorithm,
      keepalive_connections: num(keepalive),
      servers: servers.map((s) => ({ address: s.address, weight: num(s.weight), backup: s.backup, down: s.down, max_fails: num(s.max_fails), fail_timeout: num(s.fail_timeout) })),
      health_check: checkEnabled ? { enabled: true, path: checkPath, interval: num(checkInterval), timeout: num(checkTimeout) } : null,
    };
    try {
      if (upstream) {
        await patch<Upstream>(`/upstreams/${upstream.id}`, body);
        setSaved(true);
      } else {
        const created = await post<Upstream>(`/workspaces/${workspace.id}/upstreams`, body);
        navigate(`${base}/upstreams/${created.id}`, { replace: true });
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <p className="crumbs">
        <Link to={`${base}/upstreams`}>Upstreams</Link> / {upstream?.name ?? 'new'}
      </p>
      <PageHeader title={upstream ? `Upstream ${upstream.name}` : 'New upstream'}>
        {upstream && editable && (
          <ConfirmButton
            label="Delete"
            question={`Delete the upstream "${upstream.name}"? Virtual hosts that use it must be changed first.`}
            onConfirm={async () => {
              await del(`/upstreams/${upstream.id}`);
              navigate(`${base}/upstreams`);
            }}
          />
        )}
      </PageHeader>
      <form className="card" onSubmit={submit} aria-label="Upstream">
        <fieldset disabled={!editable}>
          <div className="row">
            <Field label="Name" error={fe('name')}>
              {(id, d) => <input id={id} aria-describedby={d} name="name" value={name} onChange={(e) => setName(e.target.value)} required />}
            </Field>
            <Field label="Algorithm" error={fe('algorithm')}>
              {(id, d) => (
                <select id={id} aria-describedby={d} value={algorithm} onChange={(e) => setAlgorithm(e.target.value)}>
                  {algorithms.map((a) => (
                    <option key={a} value={a}>
                      {a.replaceAll('_', ' ')}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Keepalive connections" error={fe('keepalive_connections')}>
              {(id, d) => <input id={id} aria-describedby={d} type="number" value={keepalive} onChange={(e) => setKeepalive(e.target.value)} />}
            </Field>
          </div>
          <h2>Servers</h2>
          {fe('servers') && <div className="field-error" role="alert">{fe('servers')}</div>}
          {servers.map((s, i) => (
            <div className="row server" key={i} aria-label={`Server ${i + 1}`} role="group">
              <Field label="Address" error={fe(`servers[${i}].address`)} hint="host:port">
                {(id, d) => <input id={id} aria-describedby={d} name={`servers[${i}].address`} value={s.address} onChange={(e) => setServer(i, { address: e.target.value })} placeholder="10.0.0.5:8080" required />}
              </Field>
              <Field label="Weight" error={fe(`servers[${i}].weight`)}>
                {(id, d) => <input id={id} aria-describedby={d} type="number" value={s.weight} onChange={(e) => setServer(i, { weight: e.target.value })} />}
              </Field>
              <Field label="Max fails" error={fe(`servers[${i}].max_fails`)}>
                {(id, d) => <input id={id} aria-describedby={d} type="number" value={s.max_fails} onChange={(e) => setServer(i, { max_fails: e.target.value })} />}
              </Field>
              <Field label="Fail timeout (s)" error={fe(`servers[${i}].fail_timeout`)}>
                {(id, d) => <input id={id} aria-describedby={d} type="number" value={s.fail_timeout} onChange={(e) => setServer(i, { fail_timeout: e.target.value })} />}
              </Field>
              <label className="check">
                <input type="checkbox" checked={s.backup} onChange={(e) => setServer(i, { backup: e.target.checked })} /> backup
              </label>
              {fe(`servers[${i}].backup`) && <div className="field-error">{fe(`servers[${i}].backup`)}</div>}
              <label className="check">
                <input type="checkbox" checked={s.down} onChange={(e) => setServer(i, { down: e.target.checked })} /> down
              </label>
              {servers.length > 1 && editable && (
                <button type="button" className="link" onClick={() => setServers(servers.filter((_, j) => j !== i))}>
                  Remove server {i + 1}
                </button>
              )}
            </div>
          ))}
          {editable && (
            <button type="button" onClick={() => setServers([...servers, newServer()])}>
              Add server
            </button>
          )}
          <h2>Health check</h2>
          <label className="check">
            <input type="checkbox" checked={checkEnabled} onChange={(e) => setCheckEnabled(e.target.checked)} /> Probe servers (the agent sends GET to each server)
          </label>
          {checkEnabled && (
            <div className="row">
              <Field label="Path" error={fe('health_check.path')}>
                {(id, d) => <input id={id} aria-describedby={d} value={checkPath} onChange={(e) => setCheckPath(e.target.value)} />}
              </Field>
              <Field label="Interval (s)" error={fe('health_check.interval')}>
                {(id, d) => <input id={id} aria-describedby={d} type="number" value={checkInterval} onChange={(e) => setCheckInterval(e.target.value)} />}
              </Field>
              <Field label="Timeout (s)" error={fe('health_check.timeout')}>
                {(id, d) => <input id={id} aria-describedby={d} type="number" value={checkTimeout} onChange={(e) => setCheckTimeout(e.target.value)} />}
              </Field>
            </div>
          )}
        </fieldset>
        <Rest />
        {saved && <p role="status" className="ok">Saved. Agents that use it receive the change.</p>}
        {editable && (
          <div className="form-actions">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Saving…' : upstream ? 'Save upstream' : 'Create upstream'}
            </button>
          </div>
        )}
      </form>
    </>
  );
}
