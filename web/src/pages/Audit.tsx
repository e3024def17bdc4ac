import { Fragment, useState } from 'react';
import { get } from '../api/client';
import type { AuditEntry, Paged } from '../api/types';
import { canAdmin } from '../api/types';
import { Empty, Field, Loaded, PageHeader, Pager, useLoad, when } from '../ui';
import { FilterForm, TextField } from '../forms';
import { useWorkspace } from '../workspace';

export function AuditPage() {
  const { workspace, role } = useWorkspace();
  const [page, setPage] = useState(1);
  const [draft, setDraft] = useState({ resource_type: '', action: '', scope: 'workspace' });
  const [filters, setFilters] = useState(draft);
  const [open, setOpen] = useState<string | null>(null);
  const state = useLoad(
    async () =>
      canAdmin(role)
        ? get<Paged<AuditEntry>>(`/organizations/${workspace.organization_id}/audit-log`, {
            page,
            per_page: 25,
            workspace_id: filters.scope === 'workspace' ? workspace.id : undefined,
            resource_type: filters.resource_type,
            action: filters.action,
          })
        : null,
    [workspace.id, page, filters, role],
  );
  const submit = () => {
    setPage(1);
    setFilters(draft);
  };
  if (!canAdmin(role)) {
    return (
      <>
        <PageHeader title="Audit log" />
        <Empty title="Only admins read the audit log" />
      </>
    );
  }
  return (
    <>
      <PageHeader title="Audit log" />
      <FilterForm label="Filter audit log" onApply={submit}>
        <Field label="Scope">
          {(id) => (
            <select id={id} value={draft.scope} onChange={(e) => setDraft({ ...draft, scope: e.target.value })}>
              <option value="workspace">this workspace</option>
              <option value="organization">whole organization</option>
            </select>
          )}
        </Field>
        <TextField label="Resource type" value={draft.resource_type} onChange={(resource_type) => setDraft({ ...draft, resource_type })} placeholder="virtual_host" />
        <TextField label="Action" value={draft.action} onChange={(action) => setDraft({ ...draft, action })} placeholder="create" />
      </FilterForm>
      <Loaded state={state}>
        {(list) =>
          !list || list.data.length === 0 ? (
            <Empty title="Nothing recorded for this filter" />
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>When</th>
                      <th>Who</th>
                      <th>Action</th>
                      <th>Resource</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {list.data.map((a) => (
                      <Fragment key={a.id}>
                        <tr>
                          <td>{when(a.created_at)}</td>
                          <td>{a.actor.email ?? 'system'}</td>
                          <td>{a.action}</td>
                          <td>
                            {a.resource_type} <code className="small">{a.resource_id?.slice(0, 8)}</code>
                          </td>
                          <td>
                            <button type="button" className="link" aria-expanded={open === a.id} onClick={() => setOpen(open === a.id ? null : a.id)}>
                              {open === a.id ? 'Hide change' : 'Show change'}
                            </button>
                          </td>
                        </tr>
                        {open === a.id && (
                          <tr>
                            <td colSpan={5}>
                              <div className="diff">
                                <div>
                                  <h4>Before</h4>
                                  <pre className="output small">{a.before ? JSON.stringify(a.before, null, 2) : '—'}</pre>
                                </div>
                                <div>
                                  <h4>After</h4>
                                  <pre className="output small">{a.after ? JSON.stringify(a.after, null, 2) : '—'}</pre>
                                </div>
                              </div>
                            </td>
                          </tr>
                        )}
                      </Fragment>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager page={page} perPage={25} total={list.meta.total} onPage={setPage} />
            </>
          )
        }
      </Loaded>
    </>
  );
}
