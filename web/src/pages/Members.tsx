import { useState } from 'react';
import { del, get, patch, post } from '../api/client';
import type { AddedMember, Member, Paged, Role } from '../api/types';
import { canAdmin } from '../api/types';
import { useAuth } from '../auth';
import { ConfirmButton, Copyable, Empty, ErrorBox, Field, Loaded, PageHeader, Pager, useLoad, when } from '../ui';
import { CardForm, TextField } from '../forms';
import { useWorkspace } from '../workspace';

const roles: Role[] = ['viewer', 'editor', 'admin', 'owner'];
const roleHelp = 'viewer reads · editor changes virtual hosts, upstreams, certificates and reloads agents · admin also manages workspaces, members, tokens and agent commands · owner also deletes the organization';

export function MembersPage() {
  const { workspace, role } = useWorkspace();
  const { me } = useAuth();
  const orgId = workspace.organization_id;
  const admin = canAdmin(role);
  const [page, setPage] = useState(1);
  const [added, setAdded] = useState<AddedMember | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const state = useLoad(() => get<Paged<Member>>(`/organizations/${orgId}/members`, { page, per_page: 50 }), [orgId, page, added]);
  return (
    <>
      <PageHeader title="Members and roles" />
      <p className="muted small">{roleHelp}</p>
      {admin && <AddMemberForm orgId={orgId} onAdded={setAdded} />}
      {added?.one_time_password && (
        <div className="card" role="status" aria-label="New member">
          <p>
            <strong>{added.email}</strong> was created. Give them this one-time password (shown once); they choose their own at first login.
          </p>
          <Copyable label="One-time password" text={added.one_time_password} />
        </div>
      )}
      {actionError ? <ErrorBox error={actionError} /> : null}
      <Loaded state={state}>
        {(list) =>
          list.data.length === 0 ? (
            <Empty title="No members" />
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Email</th>
                      <th>Role</th>
                      <th>Member since</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {list.data.map((m) => (
                      <tr key={m.user_id} data-member={m.email}>
                        <td>
                          {m.email}
                          {m.display_name && <div className="muted small">{m.display_name}</div>}
                        </td>
                        <td>
                          {admin && m.user_id !== me?.id ? (
                            <select
                              aria-label={`Role of ${m.email}`}
                              value={m.role}
                              onChange={async (e) => {
                                setActionError(null);
                                try {
                                  await patch(`/organizations/${orgId}/members/${m.user_id}`, { role: e.target.value });
                                  state.reload();
                                } catch (err) {
                                  setActionError(err);
                                }
                              }}
                            >
                              {roles.map((r) => (
                                <option key={r} value={r}>
                                  {r}
                                </option>
                              ))}
                            </select>
                          ) : (
                            m.role
                          )}
                        </td>
                        <td>{when(m.created_at)}</td>
                        <td>
                          {(admin || m.user_id === me?.id) && (
                            <ConfirmButton
                              label={m.user_id === me?.id ? 'Leave' : 'Remove'}
                              question={m.user_id === me?.id ? 'Leave this organization? You lose access to its workspaces.' : `Remove ${m.email} from the organization?`}
                              onConfirm={async () => {
                                await del(`/organizations/${orgId}/members/${m.user_id}`);
                                state.reload();
                              }}
                            />
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager page={page} perPage={50} total={list.meta.total} onPage={setPage} />
            </>
          )
        }
      </Loaded>
    </>
  );
}

function AddMemberForm({ orgId, onAdded }: { orgId: string; onAdded: (member: AddedMember) => void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const submit = async () => {
    onAdded(await post<AddedMember>(`/organizations/${orgId}/members`, { email, role }));
    setEmail('');
  };
  return (
    <CardForm title="Add a member" label="Add member" submitLabel="Add member" busyLabel="Adding…" onSubmit={submit}>
      {(fe) => (
          <div className="row">
            <TextField label="Email" error={fe('email')} type="email" value={email} onChange={setEmail} required />
            <Field label="Role" error={fe('role')}>
              {(id, d) => (
                <select id={id} aria-describedby={d} value={role} onChange={(e) => setRole(e.target.value as Role)}>
                  {roles.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
      )}
    </CardForm>
  );
}
