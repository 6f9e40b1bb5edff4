import { BatchObservableResult, Context, context, Counter, Histogram, Span, trace } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import type { Entry, Ready } from '../core/consensus';
import { encodeCommand, KvLogFormat, traceparentOfEntry } from '../core/kv/commandCodec';
import type { KvCommand } from '../core/kv/types';
import {
  ATTR_NODE_ID,
  ATTR_RAFT_COMMAND,
  ATTR_RAFT_ENTRIES,
  ATTR_RAFT_INDEX,
  ATTR_RAFT_ROLE,
  ATTR_RAFT_TERM,
  METRIC_CONSENSUS_COMMIT_DURATION,
  METRIC_CONSENSUS_IS_LEADER,
  METRIC_CONSENSUS_LEADER_CHANGES,
  METRIC_CONSENSUS_TERM,
  secondsBuckets,
  SPAN_CONSENSUS_APPEND,
  SPAN_CONSENSUS_APPLY,
  SPAN_CONSENSUS_COMMIT,
  SPAN_CONSENSUS_PROPOSE,
} from './names';
import {
  activeSampledSpanContext,
  contextFromTraceparent,
  endWithError,
  meter,
  metricsEnabled,
  toTraceparent,
  tracer,
  tracingEnabled,
} from './tracing';

/** A proposal on its way through the log (see AuthorityNode.propose). */
export interface TracedProposal {
  /** The log entry payload: the encoded command, with the trace context when traced. */
  readonly data: Uint8Array;
  /** The core refused the proposal (not the leader, ...). */
  refused(reason: string): void;
  /** The proposal got `index`; `result` settles when it is applied here (or fails). */
  track<T>(index: number, term: number, result: Promise<T>): Promise<T>;
}

/** One Ready of the ready loop, as telemetry sees it. */
export interface ReadyTelemetry {
  /** The Ready's entries are durable (after the fsync, before the messages go out). */
  persisted(): void;
  /** Applies one committed entry through `fn`, inside its apply span when it is traced. */
  apply(entry: Entry, fn: () => void): void;
}

interface TracedEntry {
  readonly parent: Context;
  appendedAtMs: number | undefined;
}

const inflightMax = 10_000;

/**
 * Tracing and metrics of the authoritative path on one voter. Spans: `propose` on the leader
 * (from the call to the result), `append` on every voter (the fsync of the entry), `commit` on
 * the leader (from its own append to the moment a majority holds the entry), `apply` on every
 * voter; all children of the proposal through the traceparent inside the entry. Metrics: commit
 * latency (proposal to commit, on the leader), term, leader changes, leadership.
 */
export class ConsensusTelemetry {
  /** Entries appended here with a sampled trace context, by index, until applied. */
  private readonly traced = new Map<number, TracedEntry>();
  /** This node's own proposals (performance.now() at proposal), by index, until applied. */
  private readonly proposedAt = new Map<number, number>();
  private term = 0;
  private leader: string | null = null;
  private isLeader = false;
  private readonly commitDuration: Histogram | undefined;
  private readonly leaderChanges: Counter | undefined;
  private readonly unobserve: () => void = () => undefined;

  constructor(private readonly selfId: string) {
    if (!metricsEnabled()) return;
    const m = meter();
    this.commitDuration = m.createHistogram(METRIC_CONSENSUS_COMMIT_DURATION, {
      description: 'From a proposal on the leader to its commit by a majority of voters',
      unit: 's',
      advice: { explicitBucketBoundaries: [...secondsBuckets] },
    });
    this.leaderChanges = m.createCounter(METRIC_CONSENSUS_LEADER_CHANGES, { description: 'Times this voter saw a new leader' });
    const term = m.createObservableGauge(METRIC_CONSENSUS_TERM, { description: 'Current Raft term on this voter' });
    const isLeader = m.createObservableGauge(METRIC_CONSENSUS_IS_LEADER, { description: '1 while this voter is the leader' });
    const cb = (r: BatchObservableResult): void => {
      r.observe(term, this.term);
      r.observe(isLeader, this.isLeader ? 1 : 0);
    };
    m.addBatchObservableCallback(cb, [term, isLeader]);
    this.unobserve = () => m.removeBatchObservableCallback(cb, [term, isLeader]);
  }

  /**
   * A proposal of `cmd`. Only a node that believes it leads traces it: elsewhere the core refuses
   * it and the call is forwarded to the leader, whose proposal is the one that counts.
   */
  proposal(cmd: KvCommand, leader: boolean, format: KvLogFormat = 'protobuf'): TracedProposal {
    const traced = leader && tracingEnabled() && activeSampledSpanContext() !== undefined;
    if (!traced && !(leader && metricsEnabled())) return { data: encodeCommand(cmd, '', format), refused: () => undefined, track: (_i, _t, result) => result };
    const startedAt = performance.now();
    const span = traced
      ? tracer().startSpan(SPAN_CONSENSUS_PROPOSE, { attributes: { [ATTR_NODE_ID]: this.selfId, [ATTR_RAFT_COMMAND]: cmd.type } })
      : undefined;
    return {
      data: encodeCommand(cmd, span === undefined ? '' : toTraceparent(span.spanContext()), format),
      refused: (reason) => {
        if (span !== undefined) endWithError(span, reason);
      },
      track: (index, term, result) => {
        if (this.commitDuration !== undefined) this.proposedAt.set(index, startedAt);
        if (span === undefined) return result;
        span.setAttributes({ [ATTR_RAFT_INDEX]: index, [ATTR_RAFT_TERM]: term });
        return result.then((r) => {
          span.end();
          return r;
        }, (err: unknown) => {
          endWithError(span, err);
          throw err;
        });
      },
    };
  }

  beginReady(rd: Ready): ReadyTelemetry {
    this.observeSoftState(rd.softState.term, rd.softState.leader, rd.softState.role === 'leader');
    const role = rd.softState.role;
    const appends: { index: number; span: Span }[] = [];
    if (tracingEnabled()) {
      for (const e of rd.entries) {
        const tp = traceparentOfEntry(e.data);
        const parent = tp === undefined ? undefined : contextFromTraceparent(tp);
        if (parent === undefined || activeSampledSpanContext(parent) === undefined) {
          this.traced.delete(e.index); // a replaced entry loses the trace of the one it replaced
          continue;
        }
        this.traced.set(e.index, { parent, appendedAtMs: undefined });
        const span = tracer().startSpan(SPAN_CONSENSUS_APPEND, {
          attributes: { [ATTR_NODE_ID]: this.selfId, [ATTR_RAFT_INDEX]: e.index, [ATTR_RAFT_TERM]: e.term, [ATTR_RAFT_ROLE]: role, [ATTR_RAFT_ENTRIES]: rd.entries.length },
        }, parent);
        appends.push({ index: e.index, span });
      }
    }
    return {
      persisted: () => {
        if (appends.length === 0) return;
        const now = Date.now();
        for (const a of appends) {
          a.span.end();
          const t = this.traced.get(a.index);
          if (t !== undefined) t.appendedAtMs = now;
        }
      },
      apply: (entry, fn) => this.apply(entry, role === 'leader', fn),
    };
  }

  close(): void {
    this.unobserve();
    this.traced.clear();
    this.proposedAt.clear();
  }

  private apply(e: Entry, leader: boolean, fn: () => void): void {
    if (this.proposedAt.size > 0) {
      const at = this.proposedAt.get(e.index);
      if (at !== undefined && leader) this.commitDuration?.record((performance.now() - at) / 1000);
      pruneUpTo(this.proposedAt, e.index);
    }
    const t = this.traced.size > 0 ? this.traced.get(e.index) : undefined;
    if (t === undefined) {
      fn();
      return;
    }
    pruneUpTo(this.traced, e.index);
    const attributes = { [ATTR_NODE_ID]: this.selfId, [ATTR_RAFT_INDEX]: e.index, [ATTR_RAFT_TERM]: e.term };
    if (leader && t.appendedAtMs !== undefined) {
      tracer().startSpan(SPAN_CONSENSUS_COMMIT, { attributes, startTime: t.appendedAtMs }, t.parent).end();
    }
    const span = tracer().startSpan(SPAN_CONSENSUS_APPLY, { attributes: { ...attributes, [ATTR_RAFT_ROLE]: leader ? 'leader' : 'follower' } }, t.parent);
    try {
      context.with(trace.setSpan(t.parent, span), fn);
      span.end();
    } catch (err) {
      endWithError(span, err);
      throw err;
    }
  }

  private observeSoftState(term: number, leader: string | null, isLeader: boolean): void {
    if (leader !== this.leader && leader !== null) this.leaderChanges?.add(1);
    this.term = term;
    this.leader = leader;
    this.isLeader = isLeader;
  }
}

/** Drops entries up to `index` (maps are filled in index order; a bound catches stragglers). */
function pruneUpTo<V>(map: Map<number, V>, index: number): void {
  for (const k of map.keys()) {
    if (k > index) break;
    map.delete(k);
  }
  if (map.size > inflightMax) {
    for (const k of map.keys()) if (k <= index) map.delete(k);
  }
}
