// Browser test of the web console against a running fleet (driven by tests/NxMesh.EndToEnd.Tests/ConsoleTests.cs).
// Usage: node web/e2e/console.mjs url=http://127.0.0.1:5080 email=… password=… upstream=127.0.0.1:9000
//          upstream_name=… agents=http://127.0.0.11:80,http://127.0.0.12:80 artifacts=tests/artifacts/ui
// Exit code 0 = every step passed; each step logs one line; screenshots of the main screens go to `artifacts`.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
for (const key of ['url', 'email', 'password', 'upstream', 'upstream_name', 'agents', 'artifacts']) {
  if (!args[key]) throw new Error(`missing argument ${key}=`);
}
const base = args.url.replace(/\/$/, '');
const agentUrls = args.agents.split(',');
const suffix = Math.random().toString(36).slice(2, 8);
const serverName = `ui-${suffix}.nxmesh.test`;
mkdirSync(args.artifacts, { recursive: true });

let step = 'start';
const log = (message) => console.log(`[console-e2e] ${message}`);
const expect = (condition, message) => {
  if (!condition) throw new Error(`${step}: ${message}`);
};
async function run(name, body) {
  step = name;
  const started = Date.now();
  await body();
  log(`ok   ${name} (${Date.now() - started} ms)`);
}
const nav = (page, name) => page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name, exact: true });
const shot = (page, name) => page.screenshot({ path: path.join(args.artifacts, `${name}.png`), fullPage: true });

/** GET http://agent/path with a Host header (node:http: fetch cannot set Host). */
function getVia(agentUrl, host, path = '/') {
  return new Promise((resolve, reject) => {
    const request = http.get(agentUrl + path, { headers: { Host: host }, timeout: 5000 }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode, body }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

async function until(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${step}: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function rest(method, url, token, body) {
  const response = await fetch(base + url, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
// Generous: the suite shares 2 cores with builds, and a login is a deliberate PBKDF2 cost.
context.setDefaultTimeout(60000);
context.setDefaultNavigationTimeout(60000);
const page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (error) => pageErrors.push(String(error)));
// Every /v1 request the console makes, to prove which screens poll and which do not.
const apiCalls = [];
page.on('request', (request) => {
  const url = new URL(request.url());
  if (url.pathname.startsWith('/v1/')) apiCalls.push({ at: Date.now(), method: request.method(), path: url.pathname });
});

let exitCode = 1;
try {
  let workspaceBase = '';
  let agentsByReplica = {};
  let viewerEmail = '';
  let viewerPassword = '';

  await run('login screen, wrong password shows the error', async () => {
    await page.goto(base + '/');
    await page.waitForURL('**/login');
    await page.getByLabel('Email', { exact: true }).fill(args.email);
    await page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    await shot(page, '01-login');
  });

  await run('log in as the admin and see the fleet', async () => {
    await page.getByLabel('Password', { exact: true }).fill(args.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/w\/[0-9a-f-]+\/fleet/);
    workspaceBase = new URL(page.url()).pathname.replace(/\/fleet$/, '');
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    // The fleet enrolls itself at start: refresh (bounded) until both replicas are listed online.
    await until('both replicas online in the fleet table', async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.locator('table.fleet').waitFor({ timeout: 5000 });
      return (await page.locator('tr[data-state="online"], tr[data-state="degraded"]').count()) >= agentUrls.length;
    }, 90000);
    for (const row of await page.locator('tr[data-agent-id]').all()) {
      const text = await row.innerText();
      const replica = /replica=(\d+)/.exec(text)?.[1];
      if (replica) agentsByReplica[replica] = await row.getAttribute('data-agent-id');
    }
    expect(Object.keys(agentsByReplica).length === agentUrls.length, `replica labels in the table: ${JSON.stringify(agentsByReplica)}`);
    await shot(page, '02-fleet');
  });

  await run('a reload keeps the session (refresh token)', async () => {
    await page.reload();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
  });

  await run('label-selector filter on the fleet', async () => {
    await page.getByLabel('Label selector').fill('replica=1');
    await page.getByRole('button', { name: 'Filter' }).click();
    await until('one row for replica=1', async () => (await page.locator('tr[data-agent-id]').count()) === 1 && (await page.locator(`tr[data-agent-id="${agentsByReplica['1']}"]`).count()) === 1, 10000);
    await page.getByLabel('Label selector').fill('replica in (');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('.field.invalid').filter({ hasText: 'Label selector' }).locator('.field-error').waitFor();
    await page.getByLabel('Label selector').fill('');
    await page.getByRole('button', { name: 'Filter' }).click();
    await until('both rows again', async () => (await page.locator('tr[data-agent-id]').count()) === agentUrls.length, 10000);
  });

  await run('create an upstream', async () => {
    await nav(page, 'Upstreams').click();
    await page.getByRole('link', { name: 'New upstream' }).click();
    await page.getByLabel('Name', { exact: true }).fill(`ui-upstream-${suffix}`);
    await page.getByLabel('Address').fill(args.upstream);
    await page.getByRole('button', { name: 'Create upstream' }).click();
    await page.waitForURL(/\/upstreams\/[0-9a-f-]{36}$/);
    await page.getByRole('heading', { name: `Upstream ui-upstream-${suffix}` }).waitFor();
    await shot(page, '03-upstream');
  });

  await run('a validation error from the API is shown next to its field', async () => {
    await nav(page, 'Virtual hosts').click();
    await page.getByRole('link', { name: 'New virtual host' }).click();
    await page.getByLabel('Name', { exact: true }).fill(`ui-site-${suffix}`);
    await page.getByLabel('Server name').fill('bad name;{}');
    await page.getByLabel('Upstream').selectOption({ label: `ui-upstream-${suffix}` });
    const posts = apiCalls.length;
    await page.getByRole('button', { name: 'Create virtual host' }).click();
    const field = page.locator('.field.invalid').filter({ has: page.getByLabel('Server name') });
    await field.locator('.field-error').waitFor();
    const message = await field.locator('.field-error').innerText();
    expect(message.length > 0, 'empty field error');
    // The message is the input's accessible description, and it came from the API (a POST was sent).
    const describedBy = await page.getByLabel('Server name').getAttribute('aria-describedby');
    expect(describedBy && (await page.locator(`[id="${describedBy}"]`).innerText()) === message, 'error not linked to the input');
    expect(apiCalls.slice(posts).some((c) => c.method === 'POST' && c.path.endsWith('/virtual-hosts')), 'no POST reached the API');
    await shot(page, '04-validation-error');
    log(`     server_name error: ${message}`);
  });

  await run('the target selector shows live which agents match', async () => {
    await page.getByLabel('Served by').selectOption('selector');
    await page.getByLabel('Label selector').fill('replica=1');
    await until('1 agent matches', async () => (await page.locator('.target-preview').getAttribute('data-matching')) === '1', 10000);
    await page.getByLabel('Label selector').fill('env=local');
    await until(`${agentUrls.length} agents match`, async () => (await page.locator('.target-preview').getAttribute('data-matching')) === String(agentUrls.length), 10000);
    await page.locator('.target-preview li[data-match]').first().waitFor();
  });

  await run('create the virtual host; every targeted agent turns in sync through the event feed', async () => {
    await page.locator('[data-feed="live"]').waitFor();
    await page.getByLabel('Server name').fill(serverName);
    const before = apiCalls.length;
    await page.getByRole('button', { name: 'Create virtual host' }).click();
    await page.waitForURL(/\/virtual-hosts\/[0-9a-f-]{36}$/);
    await page.locator('[data-rollout-done="true"]').waitFor({ timeout: 60000 });
    const rows = await page.locator('[data-rollout-agent]').all();
    expect(rows.length === agentUrls.length, `${rows.length} agents in the rollout`);
    for (const row of rows) expect((await row.getAttribute('data-status')) === 'applied', `rollout: ${await row.innerText()}`);
    // No polling: after the POST the console read only what the reloaded form needs (the virtual host, upstreams,
    // certificates and one agent list for the target preview); no agent's state was fetched.
    const after = apiCalls.slice(before);
    log(`     requests between save and in-sync: ${after.map((c) => `${c.method} ${c.path}`).join(', ')}`);
    expect(!after.some((c) => /^\/v1\/agents\/[0-9a-f-]{36}/.test(c.path)), 'an agent was read over REST during the rollout');
    expect(after.filter((c) => c.path.endsWith('/agents')).length <= 1, 'the agent list was polled during the rollout');
    await shot(page, '05-virtual-host-rollout');
    await nav(page, 'Fleet').click();
    await until('every agent in sync on the fleet screen', async () => (await page.locator('tr[data-in-sync="true"]').count()) === agentUrls.length, 10000);
    await shot(page, '06-fleet-in-sync');
    for (const agentUrl of agentUrls) {
      await until(`${agentUrl} serving ${serverName}`, async () => {
        const answer = await getVia(agentUrl, serverName);
        return answer.status === 200 && answer.body === args.upstream_name;
      }, 30000);
    }
  });

  const logPath = `/ui-log-${suffix}/`;
  const logRequests = 3;
  await run('requests through replica 1 appear in the access-log view (filters, follow mode)', async () => {
    for (let i = 0; i < logRequests; i++) {
      const answer = await getVia(agentUrls[0], serverName, `${logPath}${i}`);
      expect(answer.status === 200, `GET ${logPath}${i}: ${answer.status}`);
    }
    await nav(page, 'Access logs').click();
    await page.getByRole('heading', { name: 'Access logs' }).waitFor();
    await page.getByLabel('Host', { exact: true }).fill(serverName);
    await page.getByLabel('Path', { exact: true }).fill(logPath);
    await page.getByLabel('Agent id', { exact: true }).fill(agentsByReplica['1']);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    // Follow mode re-reads the newest page every 2 s: the agent ships its batch within a second or so.
    await page.getByLabel('Follow').check();
    const rows = page.locator(`table.logs tr[data-log-uri^="${logPath}"]`);
    await until(`${logRequests} requests for ${logPath} in the view`, async () => (await rows.count()) === logRequests, 30000);
    for (const row of await rows.all()) {
      expect((await row.getAttribute('data-log-status')) === '200', `status of ${await row.innerText()}`);
      expect((await row.innerText()).includes(serverName), `host missing in ${await row.innerText()}`);
    }
    expect((await page.locator('table.logs tbody tr').count()) === logRequests, 'rows of other requests passed the filters');
    expect((await page.getByText('not available on this server').count()) === 0, 'the access-log view says it is not available');
    await shot(page, '08-access-logs');
    await page.getByLabel('Follow').uncheck();
    await nav(page, 'Fleet').click();
    await page.locator(`tr[data-agent-id="${agentsByReplica['1']}"]`).waitFor();
  });

  await run('agent detail: config preview and a reload with its result', async () => {
    await page.locator(`tr[data-agent-id="${agentsByReplica['1']}"] a`).first().click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByRole('button', { name: 'Show nginx config' }).click();
    await page.getByLabel('nginx config').waitFor();
    const config = await page.getByLabel('nginx config').innerText();
    expect(config.includes(serverName), 'rendered config lacks the new server name');
    await page.getByRole('button', { name: 'Reload nginx' }).click();
    const result = page.locator('[data-action="Reload"]');
    await result.waitFor({ timeout: 45000 });
    expect((await result.getAttribute('data-success')) === 'true', `reload failed: ${await result.innerText()}`);
    // Telemetry: the requests above in the recent access logs, and counted in the metrics (stats and series).
    await page.locator(`section[aria-labelledby="recent-logs"] tr[data-log-uri^="${logPath}"]`).first().waitFor();
    const metrics = page.locator('section[aria-labelledby="metrics"]');
    await page.locator('[data-stat="Requests"]').waitFor();
    const requests = Number(await page.locator('[data-stat="Requests"]').getAttribute('data-value'));
    expect(requests >= logRequests, `metrics count ${requests} requests`);
    expect((await metrics.locator('figure.chart svg path').count()) === 4, 'no metrics charts drawn');
    expect((await page.getByText('not available on this server').count()) === 0, 'agent detail says telemetry is not available');
    await shot(page, '07-agent-detail');
  });

  await run('events, certificates and audit screens render', async () => {
    await nav(page, 'Events').click();
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    await page.locator('li[data-event-type="config.applied"]').first().waitFor();
    await shot(page, '09-events');
    await nav(page, 'Certificates').click();
    await page.getByLabel('Domain').fill(`cert-${suffix}.nxmesh.test`);
    await page.getByLabel('Provider').selectOption('self_signed');
    await page.getByRole('button', { name: 'Request certificate' }).click();
    await page.getByRole('cell', { name: `cert-${suffix}.nxmesh.test` }).waitFor();
    await shot(page, '10-certificates');
    await nav(page, 'Audit log').click();
    await page.getByRole('cell', { name: args.email }).first().waitFor();
    await shot(page, '11-audit');
  });

  await run('registration: a token with copyable commands, then the unused agent is deleted after confirmation', async () => {
    await nav(page, 'Register agents').click();
    await page.getByLabel('Name', { exact: true }).fill(`ui-token-${suffix}`);
    await page.getByLabel('Labels').fill('ui-test=1');
    await page.getByRole('button', { name: 'Create token' }).click();
    const container = await page.getByLabel('Container command').innerText();
    expect(container.includes('NXMESH_REGISTRATION_TOKEN=') && container.includes('docker run'), 'container command');
    expect((await page.getByLabel('Kubernetes sidecar manifest').innerText()).includes('kubernetes_sidecar'), 'kubernetes manifest');
    expect((await page.getByLabel('systemd commands').innerText()).includes('systemctl enable --now nxmesh-agent'), 'systemd commands');
    await shot(page, '12-registration');
    await nav(page, 'Fleet').click();
    const row = page.locator('tr[data-agent-id]').filter({ hasText: 'ui-test=1' });
    await row.locator('a').click();
    await page.getByRole('button', { name: 'Delete agent' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByRole('button', { name: 'Delete agent' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Yes, delete agent' }).click();
    await page.waitForURL(/\/fleet$/);
    await until('the token agent gone', async () => (await page.locator('tr[data-agent-id]').count()) === agentUrls.length, 10000);
  });

  await run('add a viewer (one-time password shown once)', async () => {
    await nav(page, 'Members').click();
    viewerEmail = `viewer-${suffix}@nxmesh.test`;
    await page.getByLabel('Email', { exact: true }).fill(viewerEmail);
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByRole('button', { name: 'Add member' }).click();
    const otp = (await page.getByLabel('One-time password', { exact: true }).innerText()).trim();
    expect(otp.length >= 8, 'no one-time password');
    viewerPassword = otp;
    await page.locator(`tr[data-member="${viewerEmail}"]`).waitFor();
    await shot(page, '13-members');
  });

  await run('narrow width: the fleet behind a menu', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.getByRole('button', { name: 'Menu' }).click();
    await nav(page, 'Fleet').click();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    await shot(page, '14-fleet-narrow');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  await run('log out', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/login');
    await page.goto(base + workspaceBase + '/fleet');
    await page.waitForURL('**/login');
  });

  await run('the viewer changes the one-time password at first login', async () => {
    await page.getByLabel('Email', { exact: true }).fill(viewerEmail);
    await page.getByLabel('Password', { exact: true }).fill(viewerPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Choose your password' }).waitFor();
    await shot(page, '15-first-login');
    const chosen = `viewer-pass-${suffix}`;
    await page.getByLabel('One-time password').fill(viewerPassword);
    await page.getByLabel('New password', { exact: true }).fill(chosen);
    await page.getByLabel('Repeat new password').fill(chosen);
    await page.getByRole('button', { name: 'Set password' }).click();
    // (the URL already ends in /fleet: the login returns to the page that asked for it)
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    viewerPassword = chosen;
  });

  await run('the viewer sees no edit controls', async () => {
    await page.goto(base + workspaceBase + '/virtual-hosts');
    await page.getByRole('link', { name: `ui-site-${suffix}` }).waitFor();
    expect((await page.getByRole('link', { name: 'New virtual host' }).count()) === 0, 'New virtual host shown to a viewer');
    await page.getByRole('link', { name: `ui-site-${suffix}` }).click();
    await page.getByLabel('Server name').waitFor();
    expect(await page.getByLabel('Server name').isDisabled(), 'editable form for a viewer');
    expect((await page.getByRole('button', { name: /Save|Delete/ }).count()) === 0, 'save/delete shown to a viewer');
    await shot(page, '16-viewer-virtual-host');
    await page.goto(base + workspaceBase + '/upstreams');
    await page.getByRole('heading', { name: 'Upstreams' }).waitFor();
    expect((await page.getByRole('link', { name: 'New upstream' }).count()) === 0, 'New upstream shown to a viewer');
    await page.goto(base + workspaceBase + '/agents/' + agentsByReplica['1']);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect((await page.getByRole('button', { name: /Reload|Restart|Delete|Edit/ }).count()) === 0, 'agent actions shown to a viewer');
    await page.goto(base + workspaceBase + '/certificates');
    await page.getByRole('heading', { name: 'Certificates' }).waitFor();
    expect((await page.getByRole('button', { name: /Request certificate|Renew|Delete/ }).count()) === 0, 'certificate controls shown to a viewer');
  });

  await run('the API refuses the viewer\'s edits anyway', async () => {
    const login = await rest('POST', '/v1/auth/login', null, { email: viewerEmail, password: viewerPassword });
    expect(login.status === 200, `viewer login ${login.status}`);
    const token = login.body.access_token;
    const workspaceId = workspaceBase.split('/')[2];
    const create = await rest('POST', `/v1/workspaces/${workspaceId}/upstreams`, token, { name: `viewer-${suffix}`, servers: [{ address: '127.0.0.1:1' }] });
    expect(create.status === 403 && create.body.error.code === 'FORBIDDEN', `viewer create upstream: ${create.status}`);
    const reload = await rest('POST', `/v1/agents/${agentsByReplica['1']}/reload`, token, {});
    expect(reload.status === 403, `viewer reload: ${reload.status}`);
    const hosts = await rest('GET', `/v1/workspaces/${workspaceId}/virtual-hosts?per_page=100`, token);
    const site = hosts.body.data.find((v) => v.server_name === serverName);
    const edit = await rest('PATCH', `/v1/virtual-hosts/${site.id}`, token, { name: 'viewer-was-here' });
    expect(edit.status === 403, `viewer edit virtual host: ${edit.status}`);
    const remove = await rest('DELETE', `/v1/virtual-hosts/${site.id}`, token);
    expect(remove.status === 403, `viewer delete virtual host: ${remove.status}`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/login');
  });

  await run('clean up as the admin through the console: the virtual host, then the upstream', async () => {
    await page.getByLabel('Email', { exact: true }).fill(args.email);
    await page.getByLabel('Password', { exact: true }).fill(args.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    await page.goto(base + workspaceBase + '/virtual-hosts');
    await page.getByRole('link', { name: `ui-site-${suffix}` }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Yes, delete' }).click();
    await page.waitForURL(/\/virtual-hosts$/);
    await nav(page, 'Upstreams').click();
    await page.getByRole('link', { name: `ui-upstream-${suffix}` }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Yes, delete' }).click();
    await page.waitForURL(/\/upstreams$/);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/login');
  });

  expect(pageErrors.length === 0, `uncaught errors in the page: ${pageErrors.join(' | ')}`);
  exitCode = 0;
  log('all steps passed');
} catch (error) {
  log(`FAIL ${step}: ${error instanceof Error ? error.message : error}`);
  await shot(page, 'failure').catch(() => {});
  if (pageErrors.length) log(`page errors: ${pageErrors.join(' | ')}`);
} finally {
  await browser.close();
}
process.exit(exitCode);
