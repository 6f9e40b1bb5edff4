import { leaseBytes } from './KvStateMachine';
import { versionBytes } from './MvccStore';
import { KvCommand, RequestOp } from './types';

/** Decimal digits a counter's value takes at most (a safe integer and its sign). */
const counterValueBytes = 17;

/**
 * The most a command can add to the store's size (KvStateMachine.bytes): a version per put, the
 * larger branch of a transaction, a lease. Zero for what makes room (compaction; deletes and
 * revoking or expiring leases, whose tombstones add a little until compaction drops them, as in
 * etcd), so those always go through a full store.
 */
export function commandGrowth(cmd: KvCommand): number {
  switch (cmd.type) {
    case 'put':
      return versionBytes(cmd.key, cmd.value.length);
    case 'txn':
      return Math.max(opsGrowth(cmd.success), opsGrowth(cmd.failure));
    case 'counter-add':
      return versionBytes(cmd.key, counterValueBytes);
    case 'lease-grant':
      return leaseBytes;
    default:
      return 0;
  }
}

function opsGrowth(ops: readonly RequestOp[]): number {
  let n = 0;
  for (const op of ops) if (op.type === 'put') n += versionBytes(op.key, op.value.length);
  return n;
}
