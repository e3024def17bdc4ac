import { useState } from 'react';
import { del, get, post } from '../api/client';
import type { Certificate, Paged } from '../api/types';
import { canEdit } from '../api/types';
import { ConfirmButton, Empty, ErrorBox, Field, Loaded, PageHeader, Pager, useLoad, when } from '../ui';
import { CardForm, TextField } from '../forms';
import { useWorkspace } from '../workspace';

const day = 86400000;

export function CertificatesPage() {
  const { workspace, role } = useWorkspace();
  const editable = canEdit(role);
  const [page, setPage] = useState(1);
  const [actionError, setActionError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const state = useLoad(() => get<Paged<Certificate>>(`/workspaces/${workspace.id}/certificates`, { page, per_page: 20 }), [workspace.id, page]);
  return (
    <>
      <PageHeader title="Certificates" />
      {editable && <RequestForm onCreated={() => state.reload()} />}
      {actionError ? <ErrorBox error={actionError} /> : null}
      {notice && <p role="status" className="ok">{notice}</p>}
      <Loaded state={state}>
        {(list) =>
          list.data.length === 0 ? (
            <Empty title="No certificates yet">Request one from Let's Encrypt, issue a self-signed one, or upload your own.</Empty>
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Domain</th>
                      <th>Provider</th>
                      <th>Status</th>
                      <th>Expires</th>
                      <th>Auto renew</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {list.data.map((c) => {
                      const expires = c.expires_at ? new Date(String(c.expires_at)).getTime() : null;
                      const days = expires ? Math.floor((expires - Date.now()) / day) : null;
                      return (
                        <tr key={c.id}>
                          <td>{c.domain}</td>
                          <td>{c.provider.replaceAll('_', ' ')}</td>
                          <td>
                            <span className={`badge cert-${c.status}`}>{c.status}</span>
                          </td>
                          <td className={days !== null && days < 14 ? 'warn' : ''}>{expires ? `${when(c.expires_at)} (${days} days)` : '—'}</td>
                          <td>{c.auto_renew ? 'yes' : 'no'}</td>
                          <td className="button-row">
                            {editable && c.provider !== 'custom' && (
                              <button
                                type="button"
                                onClick={async () => {
                                  setActionError(null);
                                  setNotice(null);
                                  try {
                                    await post(`/certificates/${c.id}/renew`);
                                    setNotice(`Renewal of ${c.domain} started.`);
                                    state.reload();
                                  } catch (e) {
                                    setActionError(e);
                                  }
                                }}
                              >
                                Renew
                              </button>
                            )}
                            {editable && (
                              <ConfirmButton
                                label="Delete"
                                question={`Delete the certificate for ${c.domain}? Virtual hosts that use it must be changed first.`}
                                onConfirm={async () => {
                                  await del(`/certificates/${c.id}`);
                                  state.reload();
                                }}
                              />
                            )}
                          </td>
                        </tr>
                      );
                    })}
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

function RequestForm({ onCreated }: { onCreated: () => void }) {
  const { workspace } = useWorkspace();
  const [domain, setDomain] = useState('');
  const [provider, setProvider] = useState('letsencrypt');
  const [autoRenew, setAutoRenew] = useState(true);
  const [certificatePem, setCertificatePem] = useState('');
  const [keyPem, setKeyPem] = useState('');
  const submit = async () => {
    await post(`/workspaces/${workspace.id}/certificates`, {
      domain,
      provider,
      auto_renew: provider === 'custom' ? false : autoRenew,
      ...(provider === 'custom' ? { certificate_pem: certificatePem, private_key_pem: keyPem } : {}),
    });
    setDomain('');
    setCertificatePem('');
    setKeyPem('');
    onCreated();
  };
  return (
    <CardForm title="Request a certificate" label="Request certificate" submitLabel="Request certificate" busyLabel="Requesting…" onSubmit={submit}>
      {(fe) => (
        <>
          <div className="row">
            <TextField label="Domain" error={fe('domain')} value={domain} onChange={setDomain} placeholder="www.example.com" />
            <Field label="Provider" error={fe('provider')}>
              {(id, d) => (
                <select id={id} aria-describedby={d} value={provider} onChange={(e) => setProvider(e.target.value)}>
                  <option value="letsencrypt">Let's Encrypt</option>
                  <option value="self_signed">self-signed</option>
                  <option value="custom">upload (custom)</option>
                </select>
              )}
            </Field>
            {provider !== 'custom' && (
              <label className="check">
                <input type="checkbox" checked={autoRenew} onChange={(e) => setAutoRenew(e.target.checked)} /> renew automatically
              </label>
            )}
          </div>
          {provider === 'custom' && (
            <div className="row">
              <Field label="Certificate (PEM, with chain)" error={fe('certificate_pem')}>
                {(id, d) => <textarea id={id} aria-describedby={d} rows={5} value={certificatePem} onChange={(e) => setCertificatePem(e.target.value)} />}
              </Field>
              <Field label="Private key (PEM)" error={fe('private_key_pem')}>
                {(id, d) => <textarea id={id} aria-describedby={d} rows={5} value={keyPem} onChange={(e) => setKeyPem(e.target.value)} />}
              </Field>
            </div>
          )}
        </>
      )}
    </CardForm>
  );
}
