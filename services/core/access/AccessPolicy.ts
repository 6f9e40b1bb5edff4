import { prefixRangeEnd } from '../kv/prefixRangeEnd';
import { KeyRange, keyRangeCovered, singleKey } from './KeyRange';

/** What a permission covers: documents and KV keys by range, admin calls as a whole. */
export type Resource = 'documents' | 'kv' | 'admin';
export type Access = 'read' | 'write';

/**
 * What one call needs. `range` names the documents or keys it reads or writes; without one, a
 * KV need is met by any KV permission of that access (leases belong to no key), and an admin
 * need by the role's admin access (an admin need with a range, a method without a rule, by none).
 */
export interface Need {
  readonly resource: Resource;
  readonly access: Access;
  readonly range?: KeyRange;
}

/** One permission of a role, as the policy file states it. */
export interface Grant {
  readonly resource: Resource;
  readonly access: readonly Access[];
  /** Undefined for admin. */
  readonly range?: KeyRange;
  /** The permission as the policy wrote it, for messages and WhoAmI. */
  readonly text: string;
}

export interface Role {
  readonly name: string;
  readonly grants: readonly Grant[];
}

const accessWords: Record<string, readonly Access[]> = { read: ['read'], write: ['write'], readwrite: ['read', 'write'] };

/**
 * Who may do what, per identity: users (a client certificate's common name) hold roles, roles
 * hold permissions on document ids and KV keys (an exact id or key, a prefix, or for KV a range
 * [key, rangeEnd)) and on the admin calls, each for read, write or both, as etcd's roles do.
 * Anything not granted is refused. Parsed from JSON, checked strictly: an unknown field, role or
 * access word is an error naming where it is, never a permission silently lost or widened.
 */
export class AccessPolicy {
  private constructor(
    readonly roles: ReadonlyMap<string, Role>,
    private readonly users: ReadonlyMap<string, readonly string[]>,
  ) {}

  /** Users the policy names. */
  get userCount(): number {
    return this.users.size;
  }

  /** The roles of `user`, undefined when the policy does not name it. */
  rolesOf(user: string): readonly string[] | undefined {
    return this.users.get(user);
  }

  /** Every permission `user` holds through its roles (empty for a user the policy does not name). */
  grantsOf(user: string): Grant[] {
    return (this.users.get(user) ?? []).flatMap((r) => this.roles.get(r)?.grants ?? []);
  }

  /** Undefined when `user` may do all of `needs`, else why not (the first need refused). */
  refusal(user: string, needs: readonly Need[]): string | undefined {
    const roles = this.users.get(user);
    if (roles === undefined) return user === '' ? 'the caller\'s certificate has no common name, and the access policy names users by it' : `${JSON.stringify(user)} is not a user of the access policy`;
    const grants = this.grantsOf(user);
    for (const need of needs) {
      const held = grants.filter((g) => g.resource === need.resource && g.access.includes(need.access));
      const ok = need.range === undefined ? held.length > 0 : keyRangeCovered(held.flatMap((g) => (g.range === undefined ? [] : [g.range])), need.range);
      if (!ok) return `${JSON.stringify(user)} (roles: ${roles.length === 0 ? 'none' : roles.join(', ')}) may not ${need.access} ${describeNeed(need)}`;
    }
    return undefined;
  }

  /** Parses and checks a policy; errors name `source` and the field at fault. */
  static parse(text: string, source: string): AccessPolicy {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new Error(`${source}: not JSON: ${(err as Error).message}`);
    }
    const fail = (where: string, what: string): never => {
      throw new Error(`${source}: ${where} ${what}`);
    };
    const top = object(json, 'the policy', fail);
    onlyFields(top, ['roles', 'users'], 'the policy', fail);
    const roles = new Map<string, Role>();
    for (const [name, value] of Object.entries(object(top.roles ?? {}, 'roles', fail))) {
      const where = `roles.${name}`;
      const r = object(value, where, fail);
      onlyFields(r, ['documents', 'kv', 'admin'], where, fail);
      const grants: Grant[] = [];
      for (const resource of ['documents', 'kv'] as const) {
        const list = r[resource];
        if (list === undefined) continue;
        if (!Array.isArray(list)) fail(`${where}.${resource}`, 'must be a list of permissions');
        (list as unknown[]).forEach((p, i) => grants.push(parseGrant(resource, p, `${where}.${resource}[${i}]`, fail)));
      }
      if (r.admin !== undefined) grants.push({ resource: 'admin', access: accessOf(r.admin, `${where}.admin`, fail), text: `admin ${String(r.admin)}` });
      roles.set(name, { name, grants });
    }
    const users = new Map<string, readonly string[]>();
    for (const [name, value] of Object.entries(object(top.users ?? {}, 'users', fail))) {
      const where = `users.${JSON.stringify(name)}`;
      // A certificate without a common name is nobody, and must not become somebody.
      if (name === '') fail('users', 'names the user "" (a certificate without a common name is nobody)');
      const u = object(value, where, fail);
      onlyFields(u, ['roles'], where, fail);
      if (!Array.isArray(u.roles) || u.roles.some((x) => typeof x !== 'string')) fail(`${where}.roles`, 'must be a list of role names');
      for (const role of u.roles as string[]) if (!roles.has(role)) fail(`${where}.roles`, `names the role ${JSON.stringify(role)}, which roles does not define`);
      users.set(name, [...new Set(u.roles as string[])]);
    }
    return new AccessPolicy(roles, users);
  }
}

type Fail = (where: string, what: string) => never;

function object(v: unknown, where: string, fail: Fail): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'must be an object');
  return v as Record<string, unknown>;
}

function onlyFields(o: Record<string, unknown>, allowed: readonly string[], where: string, fail: Fail): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(where, `has an unknown field ${JSON.stringify(k)} (allowed: ${allowed.join(', ')})`);
}

function accessOf(v: unknown, where: string, fail: Fail): readonly Access[] {
  // Own keys only: "constructor" is no access word.
  const a = typeof v === 'string' && Object.hasOwn(accessWords, v) ? accessWords[v] : undefined;
  return a ?? fail(where, `must be "read", "write" or "readwrite", not ${JSON.stringify(v)}`);
}

/**
 * One document or KV permission: {"prefix": p} (every id or key starting with p; "" is all),
 * {"id": x} for a document, {"key": k} for a KV key, {"key": k, "rangeEnd": e} for KV keys in
 * [k, e) ("\u0000": every key from k on); and "access".
 */
function parseGrant(resource: 'documents' | 'kv', v: unknown, where: string, fail: Fail): Grant {
  const p = object(v, where, fail);
  const exact = resource === 'documents' ? 'id' : 'key';
  onlyFields(p, resource === 'documents' ? ['prefix', 'id', 'access'] : ['prefix', 'key', 'rangeEnd', 'access'], where, fail);
  const access = accessOf(p.access, `${where}.access`, fail);
  const word = typeof p.access === 'string' ? p.access : '';
  for (const k of ['prefix', exact, 'rangeEnd']) if (p[k] !== undefined && typeof p[k] !== 'string') fail(`${where}.${k}`, 'must be a string');
  const given = [p.prefix !== undefined, p[exact] !== undefined].filter(Boolean).length;
  if (given !== 1) fail(where, `needs exactly one of "prefix" and "${exact}"`);
  if (p.prefix !== undefined) {
    if (p.rangeEnd !== undefined) fail(where, 'has "rangeEnd" with "prefix" (a prefix is its own range)');
    const prefix = p.prefix as string;
    let rangeEnd: string;
    try {
      rangeEnd = prefix === '' ? '\u0000' : prefixRangeEnd(prefix);
    } catch (err) {
      return fail(`${where}.prefix`, (err as Error).message);
    }
    return { resource, access, range: { key: prefix, rangeEnd }, text: `${resource} prefix ${JSON.stringify(prefix)} ${word}` };
  }
  const key = p[exact] as string;
  if (key === '') fail(`${where}.${exact}`, 'must not be empty');
  if (p.rangeEnd === undefined) return { resource, access, range: singleKey(key), text: `${resource} ${exact} ${JSON.stringify(key)} ${word}` };
  const rangeEnd = p.rangeEnd as string;
  if (rangeEnd !== '\u0000' && rangeEnd <= key) fail(`${where}.rangeEnd`, `must be after key (or "\\u0000" for no end), not ${JSON.stringify(rangeEnd)}`);
  return { resource, access, range: { key, rangeEnd }, text: `kv range [${JSON.stringify(key)}, ${rangeEnd === '\u0000' ? 'end' : JSON.stringify(rangeEnd)}) ${word}` };
}

/** A need in words: `kv key "a"`, `documents with prefix "app/"`, `kv range ["a", "c")`, `admin calls`. */
export function describeNeed(n: Need): string {
  // An admin need with a range is a method no rule covers (see requiredAccess): nobody holds it.
  if (n.resource === 'admin') return n.range === undefined ? 'admin calls' : `${n.range.key}, a method with no access rule`;
  const noun = n.resource === 'documents' ? 'document' : 'kv key';
  const r = n.range;
  if (r === undefined) return `any ${n.resource === 'kv' ? 'kv key' : 'document'} (a lease belongs to no key)`;
  if (r.rangeEnd === '' || r.rangeEnd <= r.key && r.rangeEnd !== '\u0000') return `${noun} ${JSON.stringify(r.key)}`;
  if (r.rangeEnd === '\u0000') return r.key === '' ? `every ${noun}` : `${noun}s from ${JSON.stringify(r.key)} on`;
  let isPrefix = false;
  try {
    isPrefix = prefixRangeEnd(r.key) === r.rangeEnd;
  } catch {
    isPrefix = false;
  }
  if (isPrefix) return `${noun}s with prefix ${JSON.stringify(r.key)}`;
  return `${noun}s in [${JSON.stringify(r.key)}, ${JSON.stringify(r.rangeEnd)})`;
}
