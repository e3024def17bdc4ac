import { useState } from 'react';
import { del, get, post } from '../api/client';
import type { Paged, RegistrationToken, RegistrationTokens } from '../api/types';
import { canAdmin } from '../api/types';
import { ConfirmButton, Copyable, Empty, Field, Labels, Loaded, PageHeader, parseLabels, useLoad, when } from '../ui';
import { CardForm, TextField } from '../forms';
import { useWorkspace } from '../workspace';

export function RegistrationPage() {
  const { workspace, role } = useWorkspace();
  const admin = canAdmin(role);
  const [created, setCreated] = useState<RegistrationTokens | null>(null);
  const [masterUrl, setMasterUrl] = useState(() => localStorage.getItem('nxmesh.master_url') ?? `http://${location.hostname}:5081`);
  const [image, setImage] = useState('nxmesh-agent:latest');
  const tokens = useLoad(async () => (admin ? get<Paged<RegistrationToken>>(`/workspaces/${workspace.id}/agents/tokens`, { per_page: 50 }) : null), [workspace.id, admin, created]);

  return (
    <>
      <PageHeader title="Register agents" />
      {!admin ? (
        <Empty title="Only admins create registration tokens">Ask an admin of this organization for a token.</Empty>
      ) : (
        <>
          <CreateTokenForm onCreated={setCreated} />
          {created && (
            <section className="card" aria-labelledby="start">
              <h2 id="start">Start the agent</h2>
              <p className="muted">Each token enrolls one agent once and is shown only now. The agent gets the token's labels at enrollment.</p>
              <div className="row">
                <Field label="AgentHub URL (gRPC)" hint="The address agents reach the master at (http:// for h2c, https:// for TLS).">
                  {(id) => (
                    <input
                      id={id}
                      value={masterUrl}
                      onChange={(e) => {
                        setMasterUrl(e.target.value);
                        localStorage.setItem('nxmesh.master_url', e.target.value);
                      }}
                    />
                  )}
                </Field>
                <Field label="Agent image" hint="Built from NxMesh.Agent/Dockerfile.">
                  {(id) => <input id={id} value={image} onChange={(e) => setImage(e.target.value)} />}
                </Field>
              </div>
              {created.data.map((t, i) => (
                <div key={t.agent_id} className="token-commands">
                  <h3>
                    Agent {i + 1} <span className="muted small">expires {when(t.expires_at)}</span>
                  </h3>
                  <Copyable label="Registration token" text={t.token} />
                  <h4>Container</h4>
                  <Copyable label="Container command" text={containerCommand(masterUrl, t.token, image, i)} />
                  <h4>Kubernetes sidecar</h4>
                  <Copyable label="Kubernetes sidecar manifest" text={kubernetesManifest(masterUrl, t.token, image, i)} />
                  <h4>systemd service</h4>
                  <Copyable label="systemd commands" text={systemdCommands(masterUrl, t.token)} />
                </div>
              ))}
            </section>
          )}
          <section className="card" aria-labelledby="tokens">
            <h2 id="tokens">Tokens</h2>
            <Loaded state={tokens}>
              {(page) =>
                !page || page.data.length === 0 ? (
                  <Empty title="No registration tokens yet" />
                ) : (
                  <div className="table-wrap">
                    <table>
                      <thead>
                        <tr>
                          <th>Name</th>
                          <th>Labels</th>
                          <th>Status</th>
                          <th>Expires</th>
                          <th />
                        </tr>
                      </thead>
                      <tbody>
                        {page.data.map((t) => (
                          <tr key={t.id}>
                            <td>{t.name}</td>
                            <td>
                              <Labels labels={t.labels} />
                            </td>
                            <td>{t.status}</td>
                            <td>{when(t.expires_at)}</td>
                            <td>{t.status === 'active' && <ConfirmButton label="Revoke" question={`Revoke the token "${t.name}"? An agent that has not enrolled with it yet cannot.`} onConfirm={async () => { await del(`/registration-tokens/${t.id}`); tokens.reload(); }} />}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )
              }
            </Loaded>
          </section>
        </>
      )}
    </>
  );
}

function CreateTokenForm({ onCreated }: { onCreated: (tokens: RegistrationTokens) => void }) {
  const { workspace } = useWorkspace();
  const [name, setName] = useState('');
  const [labels, setLabels] = useState('');
  const [hours, setHours] = useState('24');
  const [count, setCount] = useState('1');
  const submit = async () => {
    onCreated(await post<RegistrationTokens>(`/workspaces/${workspace.id}/agents/tokens`, { name, labels: parseLabels(labels), expires_in_hours: Number(hours), count: Number(count) }));
  };
  return (
    <CardForm title="New registration token" label="Create registration token" submitLabel="Create token" busyLabel="Creating…" onSubmit={submit}>
      {(fe) => (
        <div className="row">
          <TextField label="Name" error={fe('name')} hint="Agents enrolled with it are named after it." required value={name} onChange={setName} placeholder="web-server" />
          <TextField label="Labels" error={fe('labels')} hint="key=value, comma separated" value={labels} onChange={setLabels} placeholder="env=production, region=eu" />
          <TextField label="Expires in (hours)" error={fe('expires_in_hours')} type="number" min={1} value={hours} onChange={setHours} />
          <TextField label="Number of agents" error={fe('count')} type="number" min={1} max={100} value={count} onChange={setCount} />
        </div>
      )}
    </CardForm>
  );
}

const containerCommand = (master: string, token: string, image: string, i: number) =>
  `docker run -d --name nxmesh-agent-${i + 1} --restart unless-stopped \\
  -p 80:80 -p 443:443 \\
  -v nxmesh-agent-${i + 1}:/var/lib/nxmesh-agent \\
  -e NXMESH_MASTER_URL='${master}' \\
  -e NXMESH_REGISTRATION_TOKEN='${token}' \\
  -e NXMESH_DEPLOYMENT_MODE=docker_sidecar \\
  ${image}`;

const kubernetesManifest = (master: string, token: string, image: string, i: number) =>
  `apiVersion: v1
kind: Secret
metadata:
  name: nxmesh-agent-${i + 1}
stringData:
  registration-token: '${token}'
---
# nginx and the agent share the process namespace and the prefix volume: the agent writes the config and
# signals the nginx master it finds through the pid file (control mode external).
apiVersion: v1
kind: Pod
metadata:
  name: web-${i + 1}
spec:
  shareProcessNamespace: true
  volumes:
    - name: nxmesh
      emptyDir: {}
  containers:
    - name: nginx
      image: nginx:1.22
      command: ["/bin/sh", "-c", "until [ -e /var/lib/nxmesh-agent/nginx/conf/nginx.conf ]; do sleep 1; done; exec nginx -p /var/lib/nxmesh-agent/nginx -c /var/lib/nxmesh-agent/nginx/conf/nginx.conf -g 'daemon off;'"]
      ports: [{ containerPort: 80 }, { containerPort: 443 }]
      volumeMounts: [{ name: nxmesh, mountPath: /var/lib/nxmesh-agent }]
    - name: nxmesh-agent
      image: ${image}
      env:
        - { name: NXMESH_MASTER_URL, value: '${master}' }
        - { name: NXMESH_DEPLOYMENT_MODE, value: kubernetes_sidecar }
        - name: NXMESH_REGISTRATION_TOKEN
          valueFrom: { secretKeyRef: { name: nxmesh-agent-${i + 1}, key: registration-token } }
      volumeMounts: [{ name: nxmesh, mountPath: /var/lib/nxmesh-agent }]`;

const systemdCommands = (master: string, token: string) =>
  `sudo install -d -m 0700 /var/lib/nxmesh-agent
sudo tee /etc/systemd/system/nxmesh-agent.service >/dev/null <<'EOF'
[Unit]
Description=NxMesh agent (supervises nginx)
After=network-online.target
Wants=network-online.target

[Service]
Environment=NXMESH_MASTER_URL=${master}
Environment=NXMESH_REGISTRATION_TOKEN=${token}
Environment=NXMESH_NGINX_BINARY=/usr/sbin/nginx
ExecStart=/usr/local/bin/nxmesh-agent --state-dir /var/lib/nxmesh-agent
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
EOF
sudo systemctl daemon-reload
sudo systemctl enable --now nxmesh-agent`;
