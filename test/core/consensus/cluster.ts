// A deterministic in-memory cluster of RawNodes for tests: messages wait in one FIFO queue
// until a test delivers them, partitions drop them, and each node's ready loop follows the
// documented order (persist, send, apply, advance). Its state machine is the list of applied
// normal entries as strings, and its snapshots are that list as JSON.

import {
  asNodeId,
  decodeClusterConfig,
  MemoryRaftStorage,
  RawNode,
  type ClusterConfig,
  type Entry,
  type Message,
  type NodeId,
  type RaftConfig,
  type ReadState,
  type Ready,
  type SoftState,
} from '../../../services/core/consensus';
import { makePrng } from '../../sim/prng';

export type NodeOptions = Partial<
  Pick<
    RaftConfig,
    | 'electionTimeoutTicks'
    | 'heartbeatIntervalTicks'
    | 'preVote'
    | 'checkQuorum'
    | 'maxSizePerMsgBytes'
    | 'maxInflightMsgs'
    | 'maxUncommittedEntriesBytes'
    | 'deferCommitNotice'
  >
>;

const enc = new TextEncoder();
const dec = new TextDecoder();

export const bytes = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array): string => dec.decode(b);

function softOf(raw: RawNode): SoftState {
  const st = raw.status();
  return { leader: st.leader, role: st.role, term: st.term };
}

export class TestNode {
  raw: RawNode;
  up = true;
  /** Applied normal entries' data, in order: the state machine. */
  state: string[] = [];
  appliedIndex = 0;
  /** Config as of appliedIndex (what a snapshot taken now must carry). */
  appliedConfig: ClusterConfig;
  readStates: ReadState[] = [];
  lastSoft: SoftState;

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryRaftStorage,
    private readonly options: NodeOptions,
    private readonly rand: () => number,
  ) {
    this.appliedConfig = { voters: [], learners: [] };
    this.raw = this.makeRawNode();
    this.lastSoft = softOf(this.raw);
  }

  private makeRawNode(): RawNode {
    const snap = this.storage.snapshot();
    this.state = snap.data.byteLength > 0 ? (JSON.parse(text(snap.data)) as string[]) : [];
    this.appliedIndex = snap.index;
    this.appliedConfig = { voters: snap.voters, learners: snap.learners };
    return new RawNode({ id: this.id, storage: this.storage, rand: this.rand, appliedIndex: snap.index, ...this.options });
  }

  /** Loses everything not in storage, then starts again from it. */
  restart(): void {
    this.raw = this.makeRawNode();
    this.readStates = [];
    this.lastSoft = softOf(this.raw);
    this.up = true;
  }

  /** Snapshot at the applied index, then drop the log up to `compactTo` (default: all applied). */
  compact(compactTo = this.appliedIndex): void {
    this.storage.createSnapshot(this.appliedIndex, this.appliedConfig, bytes(JSON.stringify(this.state)));
    this.storage.compact(compactTo);
  }
}

export type ClusterEvent =
  | { kind: 'soft'; id: NodeId; from: SoftState; to: SoftState }
  | { kind: 'apply'; id: NodeId; entry: Entry }
  | { kind: 'restore'; id: NodeId; index: number; term: number }
  | { kind: 'read'; id: NodeId; state: ReadState }
  | { kind: 'deliver'; m: Message; delivered: boolean }
  | { kind: 'note'; text: string };

export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered, in send order. */
  queue: Message[] = [];
  private groups: NodeId[][] | null = null;
  events: ClusterEvent[] = [];

  constructor(
    ids: readonly string[],
    private readonly options: NodeOptions = {},
    private readonly seed = 1,
  ) {
    const voters = ids.map(asNodeId);
    for (const id of voters) this.addNode(id, { voters, learners: [] });
  }

  /** Adds a node whose storage is bootstrapped with `config` (empty to join later). */
  addNode(id: NodeId, config: ClusterConfig = { voters: [], learners: [] }): TestNode {
    const prng = makePrng(this.seed * 7919 + this.nodes.size + 1);
    const n = new TestNode(id, new MemoryRaftStorage(config), this.options, () => prng.next());
    this.nodes.set(id, n);
    return n;
  }

  ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  node(id: string): TestNode {
    const n = this.nodes.get(id as NodeId);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  leader(): TestNode | undefined {
    return [...this.nodes.values()].find((n) => n.up && n.raw.status().role === 'leader');
  }

  /** Handles every pending Ready of one node. */
  process(id: NodeId): void {
    const n = this.node(id);
    while (n.up && n.raw.hasReady()) this.handleReady(n, n.raw.ready());
  }

  processAll(): void {
    for (const id of this.ids()) this.process(id);
  }

  private handleReady(n: TestNode, rd: Ready): void {
    // 1. persist
    if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
    // 2. send
    for (const m of rd.messages) this.queue.push(m);
    // 3. apply
    if (rd.snapshot !== undefined) {
      const s = rd.snapshot;
      n.state = s.data.byteLength > 0 ? (JSON.parse(text(s.data)) as string[]) : [];
      n.appliedIndex = s.index;
      n.appliedConfig = { voters: s.voters, learners: s.learners };
      this.events.push({ kind: 'restore', id: n.id, index: s.index, term: s.term });
    }
    for (const e of rd.committedEntries) {
      if (e.index !== n.appliedIndex + 1) throw new Error(`${n.id} applies ${e.index} after ${n.appliedIndex}`);
      n.appliedIndex = e.index;
      if (e.kind === 'normal') n.state.push(text(e.data));
      if (e.kind === 'config') n.appliedConfig = decodeClusterConfig(e.data);
      this.events.push({ kind: 'apply', id: n.id, entry: e });
    }
    for (const r of rd.readStates) {
      n.readStates.push(r);
      this.events.push({ kind: 'read', id: n.id, state: r });
    }
    const soft = rd.softState;
    if (soft.role !== n.lastSoft.role || soft.leader !== n.lastSoft.leader || soft.term !== n.lastSoft.term) {
      this.events.push({ kind: 'soft', id: n.id, from: n.lastSoft, to: soft });
      n.lastSoft = soft;
    }
    // 4. advance
    n.raw.advance(rd);
  }

  canReach(from: NodeId, to: NodeId): boolean {
    if (this.groups === null) return true;
    return this.groups.some((g) => g.includes(from) && g.includes(to));
  }

  /** Nodes in different groups cannot talk; nodes not listed are isolated. */
  partition(groups: readonly (readonly string[])[]): void {
    this.groups = groups.map((g) => g.map(asNodeId));
  }

  heal(): void {
    this.groups = null;
  }

  tick(id: string, times = 1): void {
    const n = this.node(id);
    for (let i = 0; i < times && n.up; i++) {
      n.raw.tick();
      this.process(n.id);
    }
  }

  /** Ticks every up node once per round, in id order. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const n of this.nodes.values()) if (n.up) this.tick(n.id);
  }

  /**
   * Delivers messages (processing readies in between) until nothing is in flight. Returns
   * every message taken from the queue with whether it was delivered.
   */
  deliverAll(maxMessages = 100_000): { m: Message; delivered: boolean }[] {
    const log: { m: Message; delivered: boolean }[] = [];
    this.processAll();
    while (this.queue.length > 0) {
      if (log.length >= maxMessages) throw new Error(`deliverAll: more than ${maxMessages} messages`);
      const m = this.queue.shift() as Message;
      const to = this.nodes.get(m.to);
      const delivered = to !== undefined && to.up && this.canReach(m.from, m.to);
      log.push({ m, delivered });
      this.events.push({ kind: 'deliver', m, delivered });
      if (delivered) {
        to.raw.step(m);
        this.process(to.id);
      }
    }
    return log;
  }

  crash(id: string): void {
    const n = this.node(id);
    n.up = false;
    this.queue = this.queue.filter((m) => m.to !== n.id);
  }

  restart(id: string): void {
    this.node(id).restart();
  }

  /** Elects `id` by campaigning and delivering; throws if it did not win. */
  elect(id: string): TestNode {
    const n = this.node(id);
    n.raw.campaign();
    this.deliverAll();
    if (n.raw.status().role !== 'leader') throw new Error(`${id} did not become leader`);
    return n;
  }

  /** The node's durable log (the cluster handles every Ready at once, so nothing is unstable). */
  logOf(id: string): Entry[] {
    const s = this.node(id).storage;
    const r = s.entries(s.firstIndex(), s.lastIndex() + 1, Number.POSITIVE_INFINITY);
    if (!r.ok) throw new Error('log compacted under read');
    return [...r.entries];
  }
}
