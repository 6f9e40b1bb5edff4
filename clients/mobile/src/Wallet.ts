import type { ConcordWebApi } from './ConcordWebApi';
import { GrpcWebError, grpcStatus, statusName } from './GrpcWebError';

// A user's wallet: the authoritative bounded counter `wallet/<user>` (cents, floor 0) in the
// KV store, decided by a majority of the three voters. Paying debits it with CounterAdd, which
// the node refuses (never clamps) below the floor, and which only the majority side of a split
// can perform: the minority answers UNAVAILABLE at once, naming the voters it reaches.

export const startingBalanceCents = 5000n;

export type PayResult = { ok: true; balanceCents: bigint; node: string } | { ok: false; message: string };

export class Wallet {
  readonly key: string;

  constructor(private readonly api: ConcordWebApi, readonly user: string) {
    this.key = `wallet/${user}`;
  }

  /** Opens the wallet with the starting balance once per user, atomically (a Txn on version 0). */
  async open(): Promise<void> {
    await this.api.putIfAbsent(this.key, new TextEncoder().encode(startingBalanceCents.toString()));
  }

  /**
   * The balance as the serving node has applied it (a serializable read): readable on the
   * minority side too, where it may lag, which the UI says when a pay was just refused.
   */
  async balance(): Promise<bigint | undefined> {
    const res = await this.api.range(this.key, true);
    const kv = res.kvs[0];
    return kv === undefined ? undefined : BigInt(new TextDecoder().decode(kv.value));
  }

  async pay(cents: number): Promise<PayResult> {
    try {
      const res = await this.api.counterAdd(this.key, -BigInt(cents), 0n);
      return { ok: true, balanceCents: res.value, node: res.header?.nodeId ?? '' };
    } catch (err) {
      return { ok: false, message: explain(err) };
    }
  }
}

/** The words the phone shows for a refused payment. */
export function explain(err: unknown): string {
  if (!(err instanceof GrpcWebError)) return String(err);
  if (err.code === grpcStatus.UNAVAILABLE) {
    const voters = err.trailers.get('concord-reachable-voters');
    if (voters !== undefined) return `no quorum: reachable voters ${voters === '' ? 'none' : voters.split(',').join(', ')} (via ${err.servedBy})`;
    return `unavailable: ${err.details}`;
  }
  if (err.code === grpcStatus.FAILED_PRECONDITION) return `refused: not enough money (${err.details})`;
  return `${statusName(err.code)}: ${err.details}`;
}
