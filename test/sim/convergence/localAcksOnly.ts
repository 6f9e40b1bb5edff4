import { Replicator } from '../../../services/node/Replicator';

/**
 * The replicator a simulated node hands to DocumentNode. The simulator models push replication
 * itself (SimCluster) instead of running Replicator's gRPC links, and its clients ask for LOCAL
 * acks, which wait for no peer: for those the real replicator answers at once with "durable on
 * this node", and this stand-in does the same. (A cast: Replicator is a class with private state;
 * a method DocumentNode starts to use shows up here as "is not a function".)
 */
export const localAcksOnly = {
  required: (): number => 1,
  waitFor: async (): Promise<number> => 1,
  links: [],
} as unknown as Replicator;
