// gRPC server reflection with a real client (npm grpc-js-reflection-client, the
// client grpcurl-like tools build on): list the services, describe them, and call
// methods whose messages are built from the reflected descriptors alone -- no
// .proto file on this side. Both grpc.reflection.v1 and v1alpha; reflection needs
// no token, every API call still does.
//
//   NOTIFYD_BIN=build/notifyd node --test tests/clients/reflection.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as grpc from '@grpc/grpc-js';
import { GrpcReflection } from 'grpc-js-reflection-client';

import { Notifyd, TOP, openWs, token, waitFor } from './notifyd_harness.mjs';

const PROTO = fs.readFileSync(path.join(TOP, 'proto', 'notification', 'v1', 'notification.proto'), 'utf8');
const RPCS = [...PROTO.matchAll(/^\s*rpc\s+(\w+)\s*\(/gm)].map((m) => m[1]);
const MESSAGES = [...PROTO.matchAll(/^message\s+(\w+)\s*\{/gm)].map((m) => `notification.v1.${m[1]}`);
const ENUMS = [...PROTO.matchAll(/^enum\s+(\w+)\s*\{/gm)].map((m) => `notification.v1.${m[1]}`);
const SERVICES = ['notification.v1.NotificationService', 'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];
const LOADER = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

let nd;
before(async () => { nd = await Notifyd.start(); });
after(async () => {
  if (nd) {
    await nd.stop();
    await nd.cleanup();
  }
});

const call = (client, method, req, md = new grpc.Metadata()) => new Promise((resolve, reject) => {
  client[method](req, md, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res)));
});
const bearer = (tok) => {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${tok}`);
  return md;
};

for (const version of ['v1', 'v1alpha']) {
  describe(`grpc.reflection.${version}`, { timeout: 60000 }, () => {
    let refl;
    before(() => { refl = new GrpcReflection(nd.grpcAddr, grpc.credentials.createInsecure(), {}, version); });

    test('lists the services', async () => {
      assert.deepEqual((await refl.listServices()).sort(), [...SERVICES].sort());
    });

    test('describes every RPC of the proto', async () => {
      const methods = (await refl.listMethods('notification.v1.NotificationService')).map((m) => m.name);
      assert.deepEqual(methods.sort(), [...RPCS].sort());
      assert.ok(RPCS.length > 20);
    });

    test('finds the file of every message, enum, method and field', async () => {
      for (const sym of [...MESSAGES, ...ENUMS, 'notification.v1.NotificationService.GetStats',
        'notification.v1.SendSystemNotificationRequest.user_id', 'notification.v1.LEVEL_WARNING',
        'grpc.health.v1.HealthCheckResponse.ServingStatus']) {
        const d = await refl.getDescriptorBySymbol(sym);
        const files = d.getDescriptorMessage().file.map((f) => f.name);
        assert.ok(files.includes(sym.startsWith('grpc.') ? 'grpc/health/v1/health.proto'
          : 'notification/v1/notification.proto'), `${sym}: ${files}`);
      }
      const own = await refl.getDescriptorBySymbol(`grpc.reflection.${version}.ServerReflection`);
      assert.deepEqual(own.getDescriptorMessage().file.map((f) => f.name), [`grpc/reflection/${version}/reflection.proto`]);
      const byName = await refl.getDescriptorByFileName('notification/v1/notification.proto');
      assert.equal(byName.getDescriptorMessage().file[0].package, 'notification.v1');
      const ext = await refl.getAllExtensionNumbersOfType('notification.v1.GetStatsRequest');
      assert.deepEqual(ext, { base_type_name: 'notification.v1.GetStatsRequest', extension_number: [] });
    });

    test('unknown names are errors, not empty answers', async () => {
      await assert.rejects(refl.getDescriptorBySymbol('notification.v1.Nope'), /no symbol notification\.v1\.Nope/);
      await assert.rejects(refl.getDescriptorByFileName('nope.proto'), /no file nope\.proto/);
    });

    test('calls methods built from the reflected descriptors', async () => {
      const pkg = (await refl.getDescriptorBySymbol('notification.v1.NotificationService')).getPackageObject(LOADER);
      const Service = pkg.notification.v1.NotificationService;
      const client = new Service(nd.grpcAddr, grpc.credentials.createInsecure());
      try {
        const ws = await openWs(nd.wsUrl, token(`refl-${version}`));
        const svc = bearer(token('backend', { role: 'service' }));
        const r = await call(client, 'SendSystemNotification', {
          user_id: `refl-${version}`, title: 'From reflection', message: 'built without the .proto',
          level: 'LEVEL_WARNING', priority: 'PRIORITY_HIGH',
        }, svc);
        assert.match(r.message_id, /^[0-9a-f]{16}$/);
        assert.equal(r.connections, 1);
        const got = await waitFor(() => ws.messages.find((m) => m.message_id === r.message_id), 5000, 'the notification');
        assert.deepEqual([got.type, got.data.title, got.data.level, got.priority],
          ['system_notification', 'From reflection', 'warning', 'high']);
        const stats = await call(client, 'GetStats', {}, svc);
        assert.ok(stats.total_connections >= 1 && stats.connected_users.includes(`refl-${version}`));
        // reflection is public, the API is not
        await assert.rejects(call(client, 'GetStats', {}), (e) => e.code === grpc.status.UNAUTHENTICATED);
        await ws.close();
      } finally {
        client.close();
      }
      const hpkg = (await refl.getDescriptorBySymbol('grpc.health.v1.Health')).getPackageObject(LOADER);
      const health = new hpkg.grpc.health.v1.Health(nd.grpcAddr, grpc.credentials.createInsecure());
      try {
        assert.equal((await call(health, 'Check', { service: '' })).status, 'SERVING');
      } finally {
        health.close();
      }
    });

    after(() => { if (refl?.client?.close) refl.client.close(); });
  });
}

test('a stream answers several requests in order, then ends with OK', { timeout: 30000 }, async () => {
  const refl = new GrpcReflection(nd.grpcAddr, grpc.credentials.createInsecure(), {}, 'v1');
  const pkg = (await refl.getDescriptorBySymbol('grpc.reflection.v1.ServerReflection')).getPackageObject(LOADER);
  const client = new pkg.grpc.reflection.v1.ServerReflection(nd.grpcAddr, grpc.credentials.createInsecure());
  try {
    const answers = await new Promise((resolve, reject) => {
      const got = [];
      const stream = client.ServerReflectionInfo();
      stream.on('data', (d) => got.push(d));
      stream.on('error', reject);
      stream.on('end', () => resolve(got));
      stream.write({ host: 'h1', list_services: '*' });
      stream.write({ host: 'h2', file_containing_symbol: 'notification.v1.GetStatsRequest' });
      stream.write({ host: 'h3', file_by_filename: 'missing.proto' });
      stream.write({ host: 'h4' });
      stream.end();
    });
    assert.deepEqual(answers.map((a) => [a.valid_host, a.message_response]),
      [['h1', 'list_services_response'], ['h2', 'file_descriptor_response'],
        ['h3', 'error_response'], ['h4', 'error_response']]);
    assert.equal(answers[2].error_response.error_code, grpc.status.NOT_FOUND);
    assert.equal(answers[3].error_response.error_code, grpc.status.INVALID_ARGUMENT);
    assert.equal(answers[1].original_request.file_containing_symbol, 'notification.v1.GetStatsRequest');
  } finally {
    client.close();
  }
});

test('a stream left open does not hold a stop: it ends, and notifyd exits', { timeout: 60000 }, async () => {
  // a grace period far beyond the harness's 30 s wait for the exit
  const own = await Notifyd.start({ args: ['--shutdown-grace-ms', '120000'] });
  const refl = new GrpcReflection(own.grpcAddr, grpc.credentials.createInsecure(), {}, 'v1');
  const pkg = (await refl.getDescriptorBySymbol('grpc.reflection.v1.ServerReflection')).getPackageObject(LOADER);
  const client = new pkg.grpc.reflection.v1.ServerReflection(own.grpcAddr, grpc.credentials.createInsecure());
  try {
    const stream = client.ServerReflectionInfo();
    const ended = new Promise((resolve) => {
      stream.on('error', (e) => resolve(e.code));
      stream.on('end', () => resolve('end'));
    });
    const first = new Promise((resolve) => stream.once('data', resolve));
    stream.write({ list_services: '' });
    assert.equal((await first).message_response, 'list_services_response');
    // the client keeps the stream open; the server is told to stop
    await own.stop(); // SIGTERM, then exit 0 within its bounded wait
    assert.ok([grpc.status.UNAVAILABLE, grpc.status.CANCELLED, 'end'].includes(await ended));
  } finally {
    client.close();
    await own.cleanup();
  }
});
