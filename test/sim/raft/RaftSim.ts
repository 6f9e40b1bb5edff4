// A deterministic simulator for the Raft core, in the manner of TigerBeetle's VOPR: one seed
// derives the whole run (cluster size, fault rates, every scheduling decision). Real RawNodes
// run over an in-memory network that loses, duplicates, delays and reorders messages and
// obeys partitions (including one-way cuts); nodes crash (losing everything not yet persisted,
// possibly in the middle of handling a Ready) and restart from their storage; clocks jump
// (bursts of ticks) and stall. Checkers watch every step. Then faults stop, the network heals,
// every node restarts, and proposals must commit everywhere within a bound.

import {
  asNodeId,
  decodeClusterConfig,
  MemoryRaftStorage,
  RawNode,
  type ClusterConfig,
  type Entry,
  type Message,
  type NodeId,
  type Ready,
} from '../../../services/core/consensus';
import { makePrng, type Prng } from '../prng';
import {
  AppliedHistory,
  checkLogMatching,
  CommitHistory,
  ElectionSafety,
  ReadIndexChecker,
  SafetyViolation,
} from './checkers';

/**
 * A deliberately broken shell, to prove the checkers notice: `send-before-persist` sends a
 * Ready's messages before writing its hard state and entries (violating the documented order).
 */
export type ShellBug = 'send-before-persist';

export interface SimOptions {
  readonly seed: number;
  /** Ticks of the fault phase. */
  readonly safetyTicks?: number;
  /**
   * After healing, proposals must be applied everywhere within livenessBoundTicks plus
   * livenessTicksPerLagEntry for each entry the slowest node is behind at that moment (with
   * one entry per message and one message in flight, catching up is paced by round trips).
   */
  readonly livenessBoundTicks?: number;
  readonly livenessTicksPerLagEntry?: number;
  readonly bug?: ShellBug;
  /** Lines of trace kept for the failure report. */
  readonly traceLines?: number;
  /** What a message becomes on the wire (e.g. an encode/decode round trip); identity by default. */
  readonly wire?: (m: Message) => Message;
  /** Whether leaders defer commit notices as a node does; by default, on even seeds. */
  readonly deferCommitNotice?: boolean;
}

export interface SimStats {
  readonly seed: number;
  readonly nodes: number;
  readonly ticks: number;
  readonly messagesDelivered: number;
  readonly leadersElected: number;
  readonly committed: number;
  readonly crashes: number;
  readonly snapshotsSent: number;
  readonly readsServed: number;
  readonly livenessTicks: number;
}

export type SimResult =
  | { readonly ok: true; readonly stats: SimStats }
  | { readonly ok: false; readonly seed: number; readonly error: string; readonly trace: readonly string[] };

/** Where a crash scheduled for a node strikes while it handles its next Ready. */
type CrashPoint = 'now' | 'before-persist' | 'after-persist' | 'after-send';

interface InFlight {
  readonly m: Message;
  readonly deliverAt: number;
  /** Tie-breaker drawn at send time: messages due together arrive in random order. */
  readonly order: number;
}

/** What the simulated application keeps: a running hash of everything applied. */
interface AppState {
  index: number;
  hash: number;
  config: ClusterConfig;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function fnv1a(h: number, s: string): number {
  let x = h >>> 0;
  for (let i = 0; i < s.length; i++) {
    x ^= s.charCodeAt(i);
    x = Math.imul(x, 0x01000193) >>> 0;
  }
  return x;
}

const initialHash = 0x811c9dc5;

class SimNode {
  raw: RawNode | null = null;
  app: AppState;
  pendingCrash: CrashPoint | null = null;
  /** Async shell: a Ready being persisted, handled when its write completes. */
  outstanding: { readonly rd: Ready; readonly completeAt: number } | null = null;
  lastRole = '';
  lastTerm = -1;
  /** Probability that this node's clock skips a tick (slow clock). */
  readonly stallRate: number;

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryRaftStorage,
    stallRate: number,
  ) {
    this.stallRate = stallRate;
    this.app = { index: 0, hash: initialHash, config: { voters: [], learners: [] } };
  }

  get up(): boolean {
    return this.raw !== null;
  }
}

interface Faults {
  lossRate: number;
  duplicateRate: number;
  maxDelayTicks: number;
  partitionRate: number;
  crashRate: number;
  clockJumpRate: number;
  compactRate: number;
  proposeRate: number;
  readRate: number;
  /** Faults aimed at whoever leads now: the interesting crashes are the leader's. */
  leaderCrashRate: number;
  leaderIsolateRate: number;
  restartRate: number;
  /** Async shell: chance that a write stalls for one to three election timeouts. */
  slowWriteRate: number;
}

export class RaftSim {
  private readonly prng: Prng;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly voters: NodeId[];
  private net: InFlight[] = [];
  /** Directed links that drop everything: "from>to". */
  private cut = new Set<string>();
  private now = 0;
  private faults: Faults;
  private readonly opts: Required<Omit<SimOptions, 'bug'>> & { bug: ShellBug | undefined };
  private readonly electionTimeoutTicks: number;
  private readonly trace: string[] = [];
  /**
   * Whether the shell keeps stepping and ticking while a Ready's write is in flight (allowed
   * by RawNode's contract), rather than handling each Ready before anything else.
   */
  private readonly asyncShell: boolean;
  /** Async shell: a write completes 0..writeLatencyMaxTicks ticks after it starts. */
  private readonly writeLatencyMaxTicks: number;
  private proposalSeq = 0;
  private readSeq = 0;

  private readonly elections = new ElectionSafety();
  private readonly commits = new CommitHistory();
  private readonly applied = new AppliedHistory();
  private readonly reads = new ReadIndexChecker();

  private stats = { messagesDelivered: 0, crashes: 0, snapshotsSent: 0, readsServed: 0 };

  constructor(options: SimOptions) {
    this.opts = {
      safetyTicks: options.safetyTicks ?? 300,
      livenessBoundTicks: options.livenessBoundTicks ?? 300,
      livenessTicksPerLagEntry: options.livenessTicksPerLagEntry ?? 8,
      traceLines: options.traceLines ?? 80,
      seed: options.seed,
      bug: options.bug,
      wire: options.wire ?? ((m: Message) => m),
      deferCommitNotice: options.deferCommitNotice ?? options.seed % 2 === 0,
    };
    this.prng = makePrng(options.seed);
    const p = this.prng;
    const count = p.chance(0.25) ? 5 : 3;
    this.voters = Array.from({ length: count }, (_, i) => asNodeId(`n${i + 1}`));
    this.electionTimeoutTicks = p.pick([8, 10, 12]);
    const heartbeatIntervalTicks = p.pick([1, 2, 3]);
    // PreVote and CheckQuorum are on in production; runs without them keep the plain
    // algorithm honest too.
    const preVote = p.chance(0.85);
    const checkQuorum = p.chance(0.85);
    const maxInflightMsgs = p.pick([1, 4, 64]);
    // 1 byte means one entry per append, so entries of different terms travel separately.
    const maxSizePerMsgBytes = p.pick([1, 8, 64, 1 << 20]);
    // A third of the runs churn leaders hard: elections under crashes are where Raft's
    // subtle cases (Figure 8) live.
    const churn = p.chance(0.35);
    this.asyncShell = p.chance(0.3);
    this.writeLatencyMaxTicks = p.pick([1, 2, 4]);
    this.faults = {
      lossRate: p.pick([0, 0.02, 0.1, 0.25]),
      duplicateRate: p.pick([0, 0.02, 0.1]),
      maxDelayTicks: p.pick([0, 1, 3, 6]),
      partitionRate: p.pick([0, 0.01, 0.03]),
      crashRate: p.pick([0, 0.005, 0.02]),
      clockJumpRate: p.pick([0, 0.005, 0.02]),
      compactRate: p.pick([0, 0.01, 0.05]),
      proposeRate: p.pick([0.1, 0.3, 0.6]),
      readRate: p.pick([0, 0.05, 0.2]),
      leaderCrashRate: churn ? p.pick([0.02, 0.05, 0.1]) : p.pick([0, 0.005]),
      leaderIsolateRate: churn ? p.pick([0.02, 0.05]) : p.pick([0, 0.005]),
      restartRate: churn ? p.pick([0.1, 0.3]) : 0.1,
      slowWriteRate: p.pick([0, 0.01, 0.05]),
    };
    const config: ClusterConfig = { voters: this.voters, learners: [] };
    for (const id of this.voters) {
      const node = new SimNode(id, new MemoryRaftStorage(config), p.pick([0, 0, 0.05, 0.2]));
      this.nodes.set(id, node);
    }
    // Half the seeds defer commit notices as a node does (taken from the seed, not the PRNG,
    // so every seed keeps its other choices).
    const deferCommitNotice = this.opts.deferCommitNotice;
    this.nodeOptions = { electionTimeoutTicks: this.electionTimeoutTicks, heartbeatIntervalTicks, preVote, checkQuorum, maxInflightMsgs, maxSizePerMsgBytes, deferCommitNotice };
    for (const n of this.nodes.values()) this.start(n);
    this.log(
      `seed=${options.seed} nodes=${count} election=${this.electionTimeoutTicks} heartbeat=${heartbeatIntervalTicks} ` +
        `preVote=${preVote} checkQuorum=${checkQuorum} deferCommitNotice=${deferCommitNotice} asyncShell=${this.asyncShell} inflight=${maxInflightMsgs} msgBytes=${maxSizePerMsgBytes} ` +
        `faults=${JSON.stringify(this.faults)}`,
    );
  }

  private readonly nodeOptions: {
    electionTimeoutTicks: number;
    heartbeatIntervalTicks: number;
    preVote: boolean;
    checkQuorum: boolean;
    maxInflightMsgs: number;
    maxSizePerMsgBytes: number;
    deferCommitNotice: boolean;
  };

  /** Runs the safety phase then the liveness phase. Never throws; failures come back as data. */
  run(): SimResult {
    try {
      for (let t = 0; t < this.opts.safetyTicks; t++) this.step(true);
      this.checkAll();
      const livenessTicks = this.liveness();
      this.checkAll();
      return {
        ok: true,
        stats: {
          seed: this.opts.seed,
          nodes: this.voters.length,
          ticks: this.now,
          messagesDelivered: this.stats.messagesDelivered,
          leadersElected: this.elections.leaderCount(),
          committed: this.commits.highest(),
          crashes: this.stats.crashes,
          snapshotsSent: this.stats.snapshotsSent,
          readsServed: this.stats.readsServed,
          livenessTicks,
        },
      };
    } catch (e) {
      const err = e as Error;
      const kind = e instanceof SafetyViolation ? 'safety violation' : 'error';
      this.log(`${kind} at tick ${this.now}: ${err.message}`);
      if (!(e instanceof SafetyViolation) && err.stack !== undefined) this.log(err.stack.split('\n').slice(0, 6).join('\n'));
      return { ok: false, seed: this.opts.seed, error: `${kind}: ${err.message}`, trace: this.trace };
    }
  }

  // --- phases -------------------------------------------------------------------------------

  private liveness(): number {
    this.log(`tick ${this.now}: liveness phase: heal, restart all, faults off`);
    this.cut.clear();
    this.faults = {
      ...this.faults,
      lossRate: 0,
      duplicateRate: 0,
      maxDelayTicks: Math.min(this.faults.maxDelayTicks, 1),
      partitionRate: 0,
      crashRate: 0,
      clockJumpRate: 0,
      slowWriteRate: 0,
    };
    for (const n of this.nodes.values()) {
      n.pendingCrash = null;
      if (!n.up) this.start(n);
    }
    const start = this.now;
    const statuses = [...this.nodes.values()].flatMap((n) => (n.raw === null ? [] : [n.raw.status()]));
    const lag = Math.max(...statuses.map((st) => st.lastIndex)) - Math.min(...statuses.map((st) => st.applied));
    const bound = this.opts.livenessBoundTicks + lag * this.opts.livenessTicksPerLagEntry;
    const wanted: string[] = [];
    const outstanding = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const d = `live-${i}`;
      wanted.push(d);
      outstanding.add(d);
    }
    const appliedEverywhere = (d: string) => {
      const at = this.appliedIndexOf.get(d);
      return at !== undefined && [...this.nodes.values()].every((n) => n.app.index >= at);
    };
    // Like a real client: propose at whoever leads, and propose again only when leadership
    // changed or the proposal has had several election timeouts to commit.
    const proposedAt = new Map<string, { term: number; tick: number }>();
    const retryAfterTicks = 4 * this.electionTimeoutTicks;
    while (this.now - start < bound) {
      const leader = [...this.nodes.values()].find((n) => n.raw !== null && n.lastRole === 'leader');
      if (leader?.raw != null) {
        const term = leader.raw.status().term;
        for (const d of outstanding) {
          const last = proposedAt.get(d);
          if (last !== undefined && last.term === term && this.now - last.tick < retryAfterTicks) continue;
          const r = leader.raw.propose([enc.encode(d)]);
          if (!r.ok) continue;
          proposedAt.set(d, { term, tick: this.now });
          this.log(`tick ${this.now}: ${leader.id} accepted ${d} at ${r.firstIndex}`);
        }
        this.processReady(leader);
      }
      this.step(false);
      for (const d of [...outstanding]) if (this.appliedIndexOf.has(d)) outstanding.delete(d);
      if (wanted.every(appliedEverywhere)) return this.now - start;
    }
    const states = [...this.nodes.values()].map((n) => {
      const st = n.raw?.status();
      return st === undefined ? `${n.id} down` : `${n.id} ${st.role} term=${st.term} commit=${st.commit} applied=${st.applied} last=${st.lastIndex}`;
    });
    throw new Error(
      `liveness: not every node applied ${wanted.join(',')} within ${bound} ticks after healing ` +
        `(lag ${lag} entries; ${states.join('; ')})`,
    );
  }

  /** One unit of simulated time: faults, client activity, ticks, deliveries. */
  private step(faulty: boolean): void {
    this.now++;
    const p = this.prng;
    const f = this.faults;
    const all = [...this.nodes.values()];
    if (faulty) {
      if (p.chance(f.partitionRate)) this.randomPartition();
      if (p.chance(f.partitionRate)) {
        this.cut.clear();
        this.log(`tick ${this.now}: heal`);
      }
      for (const n of all) {
        if (n.up && p.chance(f.crashRate)) {
          n.pendingCrash = p.pick<CrashPoint>(['now', 'before-persist', 'after-persist', 'after-send']);
          if (n.pendingCrash === 'now') this.crash(n, 'now');
        } else if (!n.up && p.chance(f.restartRate)) {
          this.start(n);
          this.log(`tick ${this.now}: restart ${n.id}`);
        }
      }
      for (const n of all) if (n.up && p.chance(f.compactRate)) this.compact(n);
      const leader = all.find((n) => n.raw !== null && n.lastRole === 'leader');
      if (leader !== undefined && p.chance(f.leaderCrashRate)) {
        // Part-way through its next Ready, often: after persisting but before sending.
        leader.pendingCrash = p.pick<CrashPoint>(['now', 'before-persist', 'after-persist', 'after-persist', 'after-send']);
        if (leader.pendingCrash === 'now') this.crash(leader, 'now');
      }
      if (leader !== undefined && p.chance(f.leaderIsolateRate)) this.isolate(leader.id);
    }
    if (faulty && p.chance(f.proposeRate)) {
      const n = p.pick(all);
      if (n.raw !== null) {
        const count = 1 + p.int(3);
        const data = Array.from({ length: count }, () => enc.encode(`p${++this.proposalSeq}${'.'.repeat(p.int(12))}`));
        n.raw.propose(data);
        this.processReady(n);
      }
    }
    if (p.chance(f.readRate)) {
      const n = p.pick(all);
      if (n.raw !== null) {
        const ctx = `r${++this.readSeq}`;
        const r = n.raw.readIndex(ctx);
        if (r.ok) this.reads.begin(ctx, n.id, this.commits.highest());
        this.processReady(n);
      }
    }
    for (const n of all) {
      if (n.raw === null) continue;
      let ticks = 1;
      if (faulty && p.chance(f.clockJumpRate)) {
        ticks = 1 + p.int(2 * this.electionTimeoutTicks);
        this.log(`tick ${this.now}: clock jump ${n.id} +${ticks}`);
      } else if (faulty && p.chance(n.stallRate)) {
        ticks = 0;
      }
      for (let i = 0; i < ticks && n.raw !== null; i++) {
        n.raw.tick();
        // A node's shell sends owed commit notices a few milliseconds later: within the tick.
        if (this.nodeOptions.deferCommitNotice && n.raw.commitNoticeOwed()) n.raw.sendCommitNotices();
        this.processReady(n);
      }
    }
    this.deliverDue();
    for (const n of all) if (n.pendingCrash !== null) this.crash(n, 'end of tick');
    if (this.now % 25 === 0) this.checkAll();
  }

  /** Cuts `id` off from everyone, optionally keeping one companion (a minority of 5). */
  private isolate(id: NodeId): void {
    const p = this.prng;
    this.cut.clear();
    const side = new Set([id]);
    if (this.voters.length === 5 && p.chance(0.5)) side.add(p.pick(this.voters.filter((v) => v !== id)));
    for (const a of this.voters) for (const b of this.voters) if (side.has(a) !== side.has(b)) this.cut.add(`${a}>${b}`);
    this.log(`tick ${this.now}: isolate leader [${[...side].join(' ')}]`);
  }

  private randomPartition(): void {
    const p = this.prng;
    const ids = [...this.voters];
    this.cut.clear();
    if (p.chance(0.3)) {
      // One-way cuts: some directed links drop everything.
      for (const a of ids) for (const b of ids) if (a !== b && p.chance(0.3)) this.cut.add(`${a}>${b}`);
      this.log(`tick ${this.now}: one-way cuts ${[...this.cut].join(' ')}`);
      return;
    }
    const side = new Set(ids.filter(() => p.chance(0.5)));
    for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.cut.add(`${a}>${b}`);
    this.log(`tick ${this.now}: partition [${[...side].join(' ')}] | [${ids.filter((i) => !side.has(i)).join(' ')}]`);
  }

  // --- nodes --------------------------------------------------------------------------------

  private start(n: SimNode): void {
    const snap = n.storage.snapshot();
    if (snap.data.byteLength > 0) {
      const s = JSON.parse(dec.decode(snap.data)) as AppState;
      n.app = { index: s.index, hash: s.hash, config: s.config };
    } else {
      n.app = { index: 0, hash: initialHash, config: { voters: snap.voters, learners: snap.learners } };
    }
    const rng = makePrng(this.prng.int(0x7fffffff));
    n.raw = new RawNode({ id: n.id, storage: n.storage, rand: () => rng.next(), appliedIndex: n.app.index, ...this.nodeOptions });
    n.pendingCrash = null;
    this.processReady(n);
  }

  private crash(n: SimNode, where: string): void {
    if (n.raw === null) return;
    n.raw = null;
    n.pendingCrash = null;
    n.outstanding = null;
    this.stats.crashes++;
    this.reads.forget(n.id);
    this.log(`tick ${this.now}: crash ${n.id} (${where})`);
  }

  /** The application snapshots its state and the node drops log entries behind it. */
  private compact(n: SimNode): void {
    if (n.app.index <= n.storage.snapshot().index) return;
    const data = enc.encode(JSON.stringify(n.app));
    n.storage.createSnapshot(n.app.index, n.app.config, data);
    const keep = this.prng.int(4);
    const to = Math.max(n.storage.firstIndex() - 1, n.app.index - keep);
    n.storage.compact(to);
    this.log(`tick ${this.now}: ${n.id} snapshot at ${n.app.index}, compacted to ${to}`);
  }

  /**
   * The shell's ready loop. A synchronous shell handles each Ready at once; an asynchronous
   * one starts its write and handles it when the write completes (completeWrites).
   */
  private processReady(n: SimNode): void {
    if (!this.asyncShell) {
      while (n.raw !== null && n.raw.hasReady()) this.handleReady(n, n.raw.ready());
      return;
    }
    if (n.raw !== null && n.outstanding === null && n.raw.hasReady()) {
      // Now and then a write stalls (an fsync hiccup) for longer than an election takes.
      const latency = this.prng.chance(this.faults.slowWriteRate)
        ? this.electionTimeoutTicks * (1 + this.prng.int(3))
        : this.prng.int(this.writeLatencyMaxTicks + 1);
      n.outstanding = { rd: n.raw.ready(), completeAt: this.now + latency };
    }
  }

  /** Async shell: finishes every write due by now. Returns whether any was finished. */
  private completeWrites(): boolean {
    let any = false;
    for (const n of this.nodes.values()) {
      const w = n.outstanding;
      if (w === null || w.completeAt > this.now) continue;
      n.outstanding = null;
      any = true;
      this.handleReady(n, w.rd);
      this.processReady(n);
    }
    return any;
  }

  /** Persist, send, apply, advance (or a crash part-way). */
  private handleReady(n: SimNode, rd: Ready): void {
    if (n.raw === null) return;
    const crashAt = n.pendingCrash;
    if (crashAt === 'before-persist') return this.crash(n, 'before persisting a Ready');
    if (this.opts.bug === 'send-before-persist') {
      this.send(rd);
      if (crashAt === 'after-persist' || crashAt === 'after-send') return this.crash(n, 'after sending, before persisting');
      this.persist(n, rd);
    } else {
      this.persist(n, rd);
      if (crashAt === 'after-persist') return this.crash(n, 'after persisting, before sending');
      this.send(rd);
      if (crashAt === 'after-send') return this.crash(n, 'after sending, before applying');
    }
    this.apply(n, rd);
    n.raw.advance(rd);
  }

  private persist(n: SimNode, rd: Ready): void {
    if (rd.snapshot !== undefined) {
      n.storage.applySnapshot(rd.snapshot);
      this.commits.observeSnapshot(n.id, rd.snapshot);
    }
    n.storage.append(rd.entries);
    if (rd.hardState !== undefined) {
      n.storage.setHardState(rd.hardState);
      this.commits.observeCommit(n.id, rd.hardState.commit, n.storage);
    }
    if (rd.softState.role === 'leader') this.elections.observeLeader(n.id, rd.softState.term);
  }

  private apply(n: SimNode, rd: Ready): void {
    if (rd.snapshot !== undefined) {
      const s = JSON.parse(dec.decode(rd.snapshot.data)) as AppState;
      this.applied.checkHash(n.id, s.index, s.hash);
      if (s.index !== rd.snapshot.index) throw new Error(`snapshot data at ${s.index} labelled ${rd.snapshot.index}`);
      n.app = { index: s.index, hash: s.hash, config: s.config };
      this.log(`tick ${this.now}: ${n.id} restored snapshot ${rd.snapshot.term}/${rd.snapshot.index}`);
    }
    for (const e of rd.committedEntries) this.applyEntry(n, e);
    for (const r of rd.readStates) {
      this.reads.complete(r.context, n.id, r.index);
      this.stats.readsServed++;
    }
    if (rd.softState.role !== n.lastRole || rd.softState.term !== n.lastTerm) {
      this.log(`tick ${this.now}: ${n.id} is ${rd.softState.role} at term ${rd.softState.term}`);
      n.lastRole = rd.softState.role;
      n.lastTerm = rd.softState.term;
    }
  }

  private applyEntry(n: SimNode, e: Entry): void {
    if (e.index !== n.app.index + 1) throw new Error(`${n.id} applies ${e.index} after ${n.app.index}`);
    const data = dec.decode(e.data);
    n.app.index = e.index;
    n.app.hash = fnv1a(n.app.hash, `${e.index}:${e.kind}:${data}`);
    if (e.kind === 'config') n.app.config = decodeClusterConfig(e.data);
    if (e.kind === 'normal' && !this.appliedIndexOf.has(data)) this.appliedIndexOf.set(data, e.index);
    this.applied.observeApply(n.id, e, n.app.hash);
  }

  /** Index at which each proposal's data was first applied (the same everywhere). */
  private readonly appliedIndexOf = new Map<string, number>();

  // --- network ------------------------------------------------------------------------------

  private send(rd: Ready): void {
    const p = this.prng;
    const f = this.faults;
    for (let m of rd.messages) {
      if (m.type === 'snap') this.stats.snapshotsSent++;
      if (p.chance(f.lossRate)) continue;
      m = this.opts.wire(m);
      this.net.push({ m, deliverAt: this.now + p.int(f.maxDelayTicks + 1), order: p.next() });
      if (p.chance(f.duplicateRate)) this.net.push({ m, deliverAt: this.now + p.int(f.maxDelayTicks + 1), order: p.next() });
    }
  }

  /** Delivers every message due now, including ones sent with no delay while doing so. */
  private deliverDue(): void {
    for (let round = 0; round < 20; round++) {
      const wrote = this.asyncShell && this.completeWrites();
      const due = this.net.filter((x) => x.deliverAt <= this.now).sort((a, b) => a.order - b.order);
      if (due.length === 0) {
        if (wrote) continue;
        return;
      }
      this.net = this.net.filter((x) => x.deliverAt > this.now);
      for (const { m } of due) {
        const to = this.nodes.get(m.to);
        if (to === undefined || to.raw === null || this.cut.has(`${m.from}>${m.to}`)) continue;
        this.stats.messagesDelivered++;
        to.raw.step(m);
        this.processReady(to);
      }
    }
    // Whatever is still due after the round limit waits for the next tick.
    for (const x of this.net) if (x.deliverAt <= this.now) (x as { deliverAt: number }).deliverAt = this.now + 1;
  }

  // --- checks -------------------------------------------------------------------------------

  private checkAll(): void {
    const storages = new Map([...this.nodes].map(([id, n]) => [id, n.storage]));
    checkLogMatching(storages);
    this.commits.checkDurable(storages, this.voters);
  }

  private log(line: string): void {
    this.trace.push(line);
    if (this.trace.length > this.opts.traceLines) this.trace.shift();
  }
}
