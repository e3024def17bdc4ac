#!/usr/bin/env node
// A minimal NxMesh agent that is not .NET: @grpc/grpc-js with the repository's agent.proto loaded at run time by
// @grpc/proto-loader. It enrolls with a registration token, receives its ConfigUpdate on the Stream, reports
// PENDING → VALIDATING → APPLYING → SUCCESS and a health report with the applied checksum, then reconnects with
// the returned credential (metadata) and checks that nothing is pushed again. Prints one JSON line per step on
// stdout; exits 0 on success, 1 on a protocol failure, 2 on its own time limit.
//
// Usage: node agent-client.js --address 127.0.0.1:5081 --proto path/to/agent.proto --token nxmesh_agent_…
'use strict';

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function argument(name) {
  const index = process.argv.indexOf('--' + name);
  if (index < 0 || index + 1 >= process.argv.length) {
    fail(`missing --${name}`);
  }
  return process.argv[index + 1];
}

function report(step, data) {
  process.stdout.write(JSON.stringify({ step, ...data }) + '\n');
}

function fail(message) {
  process.stderr.write('node agent: ' + message + '\n');
  process.exit(1);
}

const address = argument('address');
const protoPath = argument('proto');
const token = argument('token');
const limitMs = Number(process.argv.includes('--timeout-ms') ? argument('timeout-ms') : 30000);
setTimeout(() => {
  process.stderr.write(`node agent: no result within ${limitMs} ms\n`);
  process.exit(2);
}, limitMs).unref();

const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const v1 = grpc.loadPackageDefinition(definition).nxmesh.agent.v1;
const client = new v1.AgentService(address, grpc.credentials.createInsecure());

const now = () => Date.now();
const registration = (registrationToken) => ({
  token: registrationToken,
  hostname: 'node-agent',
  ip_address: '127.0.0.1',
  version: 'node-' + process.versions.node,
  capabilities: ['ssl'],
  labels: { runtime: 'node' },
  deployment_mode: 'STANDALONE',
});
const health = (checksum, version) => ({
  nginx: { is_running: true, pid: process.pid, uptime_seconds: 1 },
  system: { cpu_percent: 1, memory_used_bytes: 1024, memory_total_bytes: 4096 },
  config_checksum: checksum,
  config_version: version,
});

/** Opens a stream and returns a reader that resolves MasterMessages one at a time. */
function open(metadata) {
  const call = client.Stream(metadata);
  const queue = [];
  const waiters = [];
  let ended = null;
  const deliver = () => {
    while (waiters.length > 0 && (queue.length > 0 || ended)) {
      const waiter = waiters.shift();
      if (queue.length > 0) {
        waiter.resolve(queue.shift());
      } else {
        waiter.reject(ended);
      }
    }
  };
  call.on('data', (message) => { queue.push(message); deliver(); });
  call.on('error', (error) => { ended = error; deliver(); });
  call.on('end', () => { ended = ended || new Error('the master ended the stream'); deliver(); });
  const next = () => new Promise((resolve, reject) => { waiters.push({ resolve, reject }); deliver(); });
  const send = (agentId, payload) => call.write({ agent_id: agentId, timestamp: now(), ...payload });
  return { call, next, send };
}

async function nextOf(stream, payload) {
  for (;;) {
    const message = await stream.next();
    if (message.payload === payload) {
      return message;
    }
    if (message.payload === 'error') {
      fail(`master error ${message.error.code}: ${message.error.message}`);
    }
  }
}

async function main() {
  // 1. Enrollment: a registration with the token, no metadata.
  const first = open(new grpc.Metadata());
  first.send('', { registration: registration(token) });
  const response = (await first.next()).registration_response;
  if (!response || !response.success) {
    fail('enrollment refused: ' + (response ? response.error_message : 'no registration_response'));
  }
  const agentId = response.agent_id;
  const credential = response.agent_credential;
  report('enrolled', { agent_id: agentId, heartbeat_interval_seconds: Number(response.heartbeat_interval_seconds), has_credential: credential.length > 0 });

  // 2. The first health report (nothing applied yet) makes the master push the desired config.
  first.send(agentId, { health: health('', 0) });
  const update = (await nextOf(first, 'config_update')).config_update;
  report('config_update', {
    config_id: update.config_id,
    version: Number(update.version),
    server_names: update.virtual_hosts.map((vhost) => vhost.server_name),
  });

  // 3. "Apply" it: the statuses in order, then a health report carrying the applied checksum.
  const started = now();
  for (const [status, offset] of [['PENDING', 0], ['VALIDATING', 5], ['APPLYING', 10], ['SUCCESS', 25]]) {
    first.send(agentId, { config_status: { config_id: update.config_id, version: update.version, status, applied_at: started + offset } });
  }
  first.send(agentId, { health: health(update.config_id, update.version) });
  report('applied', { config_id: update.config_id });
  await new Promise((resolve) => setTimeout(resolve, 500));
  first.call.end();
  first.call.cancel();

  // 4. Reconnect as a returning agent: credential in metadata, a registration without token, the applied checksum.
  const metadata = new grpc.Metadata();
  metadata.add('x-nxmesh-agent-id', agentId);
  metadata.add('authorization', 'Bearer ' + credential);
  const second = open(metadata);
  second.send(agentId, { registration: registration('') });
  const again = (await second.next()).registration_response;
  if (!again || !again.success || again.agent_credential !== '') {
    fail('reconnecting with the credential failed');
  }
  second.send(agentId, { health: health(update.config_id, update.version) });
  // In sync: nothing is pushed. Wait a little to see that no ConfigUpdate arrives.
  const pushed = await Promise.race([
    nextOf(second, 'config_update').then(() => true, () => false),
    new Promise((resolve) => setTimeout(() => resolve(false), 1500)),
  ]);
  report('reconnected', { agent_id: again.agent_id, pushed_again: pushed });
  second.call.end();
  second.call.cancel();
  client.close();
  process.exit(0);
}

main().catch((error) => fail(error && error.stack ? error.stack : String(error)));
