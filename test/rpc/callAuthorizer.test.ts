// The access checks around the handlers, with fake calls: who a call is (certificate common
// name; a forwarded user only from a node's certificate, on the writes followers forward, from
// a named peer), that a refused call never reaches its handler on any method of the client
// services, and that held streams end when a reloaded policy no longer allows them.
import { Metadata, type ServiceDefinition } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdminServiceService } from '../../proto/gen/concord/v1/admin';
import { DocumentServiceService } from '../../proto/gen/concord/v1/documents';
import { KvServiceService } from '../../proto/gen/concord/v1/kv';
import { AccessPolicy } from '../../services/core/access/AccessPolicy';
import { CallAuthorizer, forwardedByHeader, forwardedForHeader } from '../../services/rpc/CallAuthorizer';

const raw = (name: string): Buffer => new X509Certificate(fs.readFileSync(path.resolve(__dirname, '../fixtures/tls', name))).raw;
const nodeRaw = raw('node.pem'); // names 127.0.0.1, serverAuth
const clientRaw = raw('client.pem'); // names no host, clientAuth only

let policy = AccessPolicy.parse(JSON.stringify({
  roles: { app: { kv: [{ prefix: 'app/', access: 'readwrite' }], documents: [{ prefix: 'app/', access: 'read' }] } },
  users: { alice: { roles: ['app'] }, bob: { roles: [] } },
}), 'p.json');
const authorizer = new CallAuthorizer({ policy: () => policy, peerHosts: ['127.0.0.1'], peerIds: ['n2', 'n3'], leaseKeys: () => undefined });

function call(cn: string | string[] | undefined, certRaw: Buffer, headers: Record<string, string> = {}, request: unknown = {}) {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  const listeners = new Map<string, (() => void)[]>();
  const emitted: unknown[] = [];
  return {
    request,
    metadata,
    getAuthContext: () => ({ transportSecurityType: 'ssl', sslPeerCertificate: { raw: certRaw, subject: cn === undefined ? {} : { CN: cn } } }),
    on: (event: string, l: () => void) => void listeners.set(event, [...(listeners.get(event) ?? []), l]),
    emit: (event: string, value: unknown) => (event === 'error' ? void emitted.push(value) : listeners.get(event)?.forEach((l) => l())),
    fire: (event: string) => listeners.get(event)?.forEach((l) => l()),
    emitted,
  };
}
const put = '/concord.v1.KvService/Put';

test('the user is the certificate\'s common name; several names are nobody', () => {
  expect(authorizer.identity(call('alice', clientRaw) as never)).toEqual({ user: 'alice' });
  expect(authorizer.identity(call(['alice', 'ops'], clientRaw) as never)).toEqual({ user: '' });
  expect(authorizer.identity(call(undefined, clientRaw) as never)).toEqual({ user: '' });
});

test('a forwarded user counts only from a node\'s certificate, on a forwarded write, from a named peer', () => {
  const fwd = { [forwardedForHeader]: encodeURIComponent('alice ä'), [forwardedByHeader]: 'n2' };
  expect(authorizer.identity(call('concord node', nodeRaw, fwd) as never, put)).toEqual({ user: 'alice ä', via: 'n2' });
  // A client's certificate: its own name, whatever it claims.
  expect(authorizer.identity(call('mallory', clientRaw, fwd) as never, put)).toEqual({ user: 'mallory' });
  // Not a write a follower forwards (a read, a watch): the caller itself.
  expect(authorizer.identity(call('concord node', nodeRaw, fwd) as never, '/concord.v1.KvService/Range')).toEqual({ user: 'concord node' });
  expect(authorizer.identity(call('concord node', nodeRaw, fwd) as never)).toEqual({ user: 'concord node' });
  // No forwarder, or one that is no peer of this node.
  expect(authorizer.identity(call('concord node', nodeRaw, { [forwardedForHeader]: 'alice' }) as never, put)).toEqual({ user: 'concord node' });
  expect(authorizer.identity(call('concord node', nodeRaw, { ...fwd, [forwardedByHeader]: 'n9' }) as never, put)).toEqual({ user: 'concord node' });
  // The refusal names the forwarder.
  expect(() => authorizer.check({ user: 'bob', via: 'n2' }, [{ resource: 'kv', access: 'write', range: { key: 'x', rangeEnd: '' } }])).toThrow('permission denied: "bob" (roles: none) may not write kv key "x" (forwarded by n2)');
});

test('on every method of the client services, a refused call never reaches its handler', () => {
  for (const definition of [DocumentServiceService, KvServiceService, AdminServiceService] as unknown as ServiceDefinition[]) {
    const reached: string[] = [];
    const impl = Object.fromEntries(Object.keys(definition).map((name) => [name, () => void reached.push(name)]));
    const wrapped = authorizer.wrap(definition, impl);
    for (const [name, m] of Object.entries(definition)) {
      const c = call('mallory', clientRaw, {}, m.requestDeserialize(Buffer.alloc(0)));
      let answered: unknown;
      (wrapped[name] as (c: unknown, cb: (e: unknown) => void) => void)(c, (e) => (answered = e));
      const open = ['status', 'whoAmI'].includes(name);
      // Streams of requests reach their handler, which checks each message itself.
      const expected = open || m.requestStream;
      expect([m.path, reached.includes(name)]).toEqual([m.path, expected]);
      if (!expected) expect([m.path, ((answered ?? c.emitted[0]) as { code?: number }).code]).toEqual([m.path, 7]);
    }
  }
});

test('a streaming method without its per-message rule is refused whole', () => {
  const definition = { Odd: { path: '/concord.v1.KvService/Odd', requestStream: true, responseStream: true } } as unknown as ServiceDefinition;
  let reached = false;
  const wrapped = authorizer.wrap(definition, { Odd: () => void (reached = true) });
  const c = call('alice', clientRaw);
  (wrapped.Odd as (c: unknown) => void)(c);
  expect(reached).toBe(false);
  expect(c.emitted[0]).toMatchObject({ code: 7, details: 'permission denied: /concord.v1.KvService/Odd has no access rule' });
});

test('a watch allowed when it opened ends when a reloaded policy refuses it, and is let go when it closes', () => {
  const definition = { Watch: KvServiceService.watch } as unknown as ServiceDefinition;
  const wrapped = authorizer.wrap(definition, { Watch: () => undefined });
  const kept = call('alice', clientRaw, {}, { key: 'app/', rangeEnd: 'app0' });
  const closed = call('alice', clientRaw, {}, { key: 'app/x', rangeEnd: '' });
  (wrapped.Watch as (c: unknown) => void)(kept);
  (wrapped.Watch as (c: unknown) => void)(closed);
  expect(authorizer.heldStreams).toBe(2);
  closed.fire('close');
  expect(authorizer.heldStreams).toBe(1);
  expect(authorizer.recheck()).toBe(0);
  policy = AccessPolicy.parse(JSON.stringify({ roles: { app: {} }, users: { alice: { roles: ['app'] } } }), 'p.json');
  expect(authorizer.recheck()).toBe(1);
  expect(kept.emitted).toEqual([expect.objectContaining({ code: 7, details: 'permission denied: "alice" (roles: app) may not read kv keys with prefix "app/"' })]);
  expect(closed.emitted).toEqual([]);
  expect(authorizer.heldStreams).toBe(0);
});
