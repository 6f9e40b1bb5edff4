import type { SagaStore, Stored } from '../../../clients/client/saga/SagaStore';

/**
 * The in-memory double of the KV store for the seeded saga simulation: the same compare-and-set
 * and lease semantics kvSagaStore gets from a cluster (a revision per write, keys deleted with
 * their lease), with the lease's end under the test's control (`expire`), as a crashed runner's
 * TTL running out. The integration test runs the same runner on real nodes.
 */
export class MemorySagaStore implements SagaStore {
  private revision = 0n;
  private readonly kv = new Map<string, { value: string; mod: bigint; lease: bigint }>();
  private readonly leases = new Set<bigint>();
  private nextLease = 1n;
  /** Writes refused by their fence (a runner that lost its saga). */
  fencedWrites = 0;

  async read(key: string): Promise<Stored | undefined> {
    const e = this.kv.get(key);
    return e === undefined ? undefined : { value: e.value, modRevision: e.mod };
  }

  async list(prefix: string): Promise<{ key: string; value: string }[]> {
    return [...this.kv.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, e]) => ({ key, value: e.value }));
  }

  async write(key: string, value: string, expected: bigint | 'absent', ownerKey: string, token: string): Promise<bigint | undefined> {
    const current = this.kv.get(key);
    const fits = this.kv.get(ownerKey)?.value === token && (expected === 'absent' ? current === undefined : current?.mod === expected);
    if (!fits) {
      this.fencedWrites++;
      return undefined;
    }
    this.kv.set(key, { value, mod: ++this.revision, lease: 0n });
    return this.revision;
  }

  async claim(ownerKey: string, token: string, lease: bigint): Promise<boolean> {
    if (this.kv.has(ownerKey)) return false;
    if (!this.leases.has(lease)) throw new Error(`lease ${lease} not found`);
    this.kv.set(ownerKey, { value: token, mod: ++this.revision, lease });
    return true;
  }

  async release(ownerKey: string, token: string): Promise<void> {
    if (this.kv.get(ownerKey)?.value === token) this.kv.delete(ownerKey);
  }

  async leaseGrant(): Promise<bigint> {
    const id = this.nextLease++;
    this.leases.add(id);
    return id;
  }

  async leaseKeepAlive(lease: bigint): Promise<void> {
    if (!this.leases.has(lease)) throw new Error(`lease ${lease} not found`);
  }

  async leaseRevoke(lease: bigint): Promise<void> {
    this.expire(lease);
  }

  /** The lease ends (its TTL ran out): its keys go. */
  expire(lease: bigint): void {
    this.leases.delete(lease);
    for (const [k, e] of [...this.kv]) if (e.lease === lease) this.kv.delete(k);
  }

  /** Every live lease. */
  liveLeases(): bigint[] {
    return [...this.leases];
  }
}
