import { useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { ApiError, get } from '../api/client';
import type { AgentDetail, FeedEvent, Paged } from '../api/types';
import { useEvents } from '../events';
import { ago, Empty, ErrorBox, Field, Labels, Loaded, PageHeader, shortId, StateBadge, useLoad } from '../ui';
import { FilterForm, TextField } from '../forms';
import { useWorkspace } from '../workspace';

/** Applies one event to an agent row: the fleet stays current from the feed alone, without polling. */
export function applyEvent(agent: AgentDetail, event: FeedEvent): AgentDetail {
  const data = event.data;
  if (data.agent_id !== agent.id) return agent;
  switch (event.type) {
    case 'agent.connected':
      return { ...agent, state: 'online', last_seen_at: event.timestamp, hostname: (data.hostname as string) ?? agent.hostname, ip_address: (data.ip_address as string) ?? agent.ip_address };
    case 'agent.disconnected':
      return { ...agent, state: 'offline', last_seen_at: event.timestamp };
    case 'config.applied': {
      const success = data.success === true;
      const configId = (data.config_id as string) ?? null;
      const version = typeof data.version === 'number' ? data.version : agent.config.applied_config_version;
      // The master pushes only the desired config, so a successful apply of it means applied = desired.
      const config = success
        ? { ...agent.config, desired_config_id: configId, desired_config_version: version, applied_config_id: configId, applied_config_version: version, in_sync: true, last_apply_status: 'success' as const, last_apply_error: null, last_apply_at: event.timestamp }
        : { ...agent.config, in_sync: false, last_apply_status: ((data.status as string) ?? 'failed') as AgentDetail['config']['last_apply_status'], last_apply_error: (data.error_message as string) ?? null, last_apply_at: event.timestamp };
      return { ...agent, config, last_seen_at: event.timestamp };
    }
    default:
      return agent;
  }
}

export function FleetPage() {
  const { workspace, base } = useWorkspace();
  const [params, setParams] = useSearchParams();
  const selector = params.get('selector') ?? '';
  const stateFilter = params.get('state') ?? 'all';
  const [draft, setDraft] = useState(selector);
  const [unknownAgent, setUnknownAgent] = useState(false);

  const state = useLoad(async () => {
    const list = await get<Paged<{ id: string }>>(`/workspaces/${workspace.id}/agents`, { per_page: 100, state: stateFilter, label_selector: selector });
    // The list has no config block: desired vs applied comes from each agent's detail.
    return Promise.all(list.data.map((a) => get<AgentDetail>(`/agents/${a.id}`)));
  }, [workspace.id, selector, stateFilter]);

  useEvents((event) => {
    if (!state.data || typeof event.data.agent_id !== 'string') return;
    if (!state.data.some((a) => a.id === event.data.agent_id)) {
      if (event.type === 'agent.connected') setUnknownAgent(true);
      return;
    }
    state.setData(state.data.map((a) => applyEvent(a, event)));
  });

  const selectorError = state.error instanceof ApiError ? state.error.field('label_selector') : undefined;
  return (
    <>
      <PageHeader title="Fleet">
        <Link className="button" to={`${base}/register`}>
          Register agents
        </Link>
        <button type="button" onClick={() => state.reload()}>
          Refresh
        </button>
      </PageHeader>
      <FilterForm
        label="Filter agents"
        submitLabel="Filter"
        onApply={() =>
          setParams((p) => {
            if (draft) p.set('selector', draft);
            else p.delete('selector');
            return p;
          })
        }
      >
        <TextField label="Label selector" error={selectorError} hint="Kubernetes syntax: env=prod, tier in (web,api), !canary" value={draft} placeholder="env=production" onChange={setDraft} />
        <Field label="State">
          {(id) => (
            <select
              id={id}
              value={stateFilter}
              onChange={(e) =>
                setParams((p) => {
                  p.set('state', e.target.value);
                  return p;
                })
              }
            >
              <option value="all">all</option>
              <option value="online">online</option>
              <option value="degraded">degraded</option>
              <option value="offline">offline</option>
            </select>
          )}
        </Field>
      </FilterForm>
      {unknownAgent && (
        <p className="notice" role="status">
          A new agent connected.{' '}
          <button type="button" className="link" onClick={() => { setUnknownAgent(false); state.reload(); }}>
            Show it
          </button>
        </p>
      )}
      {selectorError ? (
        <ErrorBox error={state.error} />
      ) : (
        <Loaded state={state}>
          {(agents) =>
            agents.length === 0 ? (
              <Empty title={selector || stateFilter !== 'all' ? 'No agent matches this filter' : 'No agents yet'}>
                {selector || stateFilter !== 'all' ? 'Change or clear the filter.' : <>Create a registration token and start an agent with it: <Link to={`${base}/register`}>Register agents</Link>.</>}
              </Empty>
            ) : (
              <div className="table-wrap">
                <table className="fleet">
                  <thead>
                    <tr>
                      <th>Agent</th>
                      <th>State</th>
                      <th>Labels</th>
                      <th>Version</th>
                      <th>Desired</th>
                      <th>Applied</th>
                      <th>In sync</th>
                      <th>Last seen</th>
                    </tr>
                  </thead>
                  <tbody>
                    {agents.map((a) => (
                      <tr key={a.id} data-agent-id={a.id} data-in-sync={String(a.config.in_sync)} data-state={a.state}>
                        <td>
                          <Link to={`${base}/agents/${a.id}`}>{a.name}</Link>
                          <div className="muted small">{a.hostname ?? 'not enrolled yet'}{a.ip_address ? ` · ${a.ip_address}` : ''}</div>
                        </td>
                        <td>
                          <StateBadge state={a.state} />
                        </td>
                        <td>
                          <Labels labels={a.labels} />
                        </td>
                        <td>{a.version ?? '—'}</td>
                        <td title={a.config.desired_config_id ?? ''}>
                          v{a.config.desired_config_version} <code>{shortId(a.config.desired_config_id)}</code>
                        </td>
                        <td title={a.config.applied_config_id ?? ''}>
                          v{a.config.applied_config_version} <code>{shortId(a.config.applied_config_id)}</code>
                          {a.config.last_apply_status && a.config.last_apply_status !== 'success' && <div className="small warn">{a.config.last_apply_status}</div>}
                        </td>
                        <td>{a.config.in_sync ? <span className="ok">in sync</span> : <span className="warn">out of sync</span>}</td>
                        <td title={String(a.last_seen_at ?? '')}>{ago(a.last_seen_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </Loaded>
      )}
    </>
  );
}
