// Data-driven transcripts in the style of etcd-io/raft's testdata: a file is a sequence of
// blocks, each a command line, a `----` line and the exact output, ended by a blank line.
// Lines starting with `#` between blocks are comments. runTranscript() replays the commands
// and returns the file with the outputs it actually produced, so a test compares the two and
// REWRITE=1 writes them back.
//
// Commands:
//   cluster n1 n2 n3 [pre-vote=false] [check-quorum=false] [election=10] [heartbeat=1] [seed=1]
//   add-node n4                 a node with an empty configuration (to be added later)
//   tick n1|all [xN]            tick (then process readies); prints role/leader changes
//   campaign n1                 start an election now
//   deliver                     deliver every queued message until quiet; prints each message
//   run xN [until=leader]       N rounds of: tick every up node once, then deliver (until a
//                               node leads a term newer than the current leader's)
//   partition n1 | n2 n3        only nodes in the same group can talk
//   heal
//   propose n1 a b ...          propose entries with data "a", "b", ...
//   conf n1 add-learner|add-voter|remove n4
//   read-index n1 ctx
//   transfer n1 n2              leader n1 hands over to n2
//   crash n1 / restart n1       restart loses everything not persisted
//   compact n1 [index]          snapshot at the applied index, drop the log up to index
//   status [n1 ...]   log n1 [...]   state n1 [...]

import {
  asNodeId,
  type ConfChange,
  type Entry,
  type Message,
  type NodeId,
} from '../../../services/core/consensus';
import { bytes, text, TestCluster, type ClusterEvent, type NodeOptions } from './cluster';

interface Block {
  /** Comment and blank lines before the command, verbatim. */
  readonly preamble: string[];
  readonly command: string;
  readonly expected: string[];
}

function parse(file: string): { blocks: Block[]; trailer: string[] } {
  const lines = file.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const blocks: Block[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    if (line.trim() === '' || line.startsWith('#')) {
      preamble.push(line);
      i++;
      continue;
    }
    if (lines[i + 1] !== '----') throw new Error(`line ${i + 2}: expected ---- after command "${line}"`);
    const expected: string[] = [];
    i += 2;
    while (i < lines.length && (lines[i] ?? '') !== '') expected.push(lines[i++] ?? '');
    i++; // the blank line that ends the block
    blocks.push({ preamble, command: line, expected });
    preamble = [];
  }
  return { blocks, trailer: preamble };
}

/** Replays a transcript; returns it with actual outputs in place of the expected ones. */
export function runTranscript(file: string): string {
  const { blocks, trailer } = parse(file);
  const runner = new Runner();
  const out: string[] = [];
  for (const b of blocks) {
    out.push(...b.preamble, b.command, '----');
    let lines: string[];
    try {
      lines = runner.run(b.command);
    } catch (e) {
      lines = [`error: ${(e as Error).message}`];
    }
    out.push(...(lines.length === 0 ? ['ok'] : lines));
    out.push('');
  }
  // Keep the file ending in exactly one newline after the last block.
  while (out[out.length - 1] === '') out.pop();
  out.push(...trailer.filter((l) => l.trim() !== ''));
  return out.join('\n') + '\n';
}

class Runner {
  private cluster: TestCluster | null = null;

  private c(): TestCluster {
    if (this.cluster === null) throw new Error('no cluster yet: start with `cluster n1 n2 n3`');
    return this.cluster;
  }

  run(command: string): string[] {
    const [verb, ...args] = command.trim().split(/\s+/);
    if (verb === 'cluster') return this.makeCluster(args);
    const c = this.c();
    c.events = [];
    const result = this.exec(c, verb ?? '', args);
    return [...result, ...c.events.map(formatEvent)];
  }

  private makeCluster(args: string[]): string[] {
    const ids = args.filter((a) => !a.includes('='));
    const opts: { -readonly [K in keyof NodeOptions]: NodeOptions[K] } = {};
    let seed = 1;
    for (const kv of args.filter((a) => a.includes('='))) {
      const [k, v = ''] = kv.split('=');
      const num = Number(v);
      switch (k) {
        case 'pre-vote': opts.preVote = v === 'true'; break;
        case 'check-quorum': opts.checkQuorum = v === 'true'; break;
        case 'election': opts.electionTimeoutTicks = num; break;
        case 'heartbeat': opts.heartbeatIntervalTicks = num; break;
        case 'max-inflight': opts.maxInflightMsgs = num; break;
        case 'max-msg-bytes': opts.maxSizePerMsgBytes = num; break;
        case 'seed': seed = num; break;
        default: throw new Error(`unknown option ${k}`);
      }
    }
    this.cluster = new TestCluster(ids, opts, seed);
    return [];
  }

  private exec(c: TestCluster, verb: string, args: string[]): string[] {
    const id = (i: number): string => {
      const v = args[i];
      if (v === undefined) throw new Error(`${verb}: missing argument ${i + 1}`);
      return v;
    };
    switch (verb) {
      case 'add-node':
        c.addNode(asNodeId(id(0)));
        return [];
      case 'tick': {
        const times = Number((args[1] ?? 'x1').replace(/^x/, ''));
        if (id(0) === 'all') c.tickAll(times);
        else c.tick(id(0), times);
        return [];
      }
      case 'campaign':
        c.node(id(0)).raw.campaign();
        c.process(asNodeId(id(0)));
        return [];
      case 'deliver':
        c.deliverAll();
        return [];
      case 'run': {
        const rounds = Number((args[0] ?? 'x1').replace(/^x/, ''));
        // until=leader stops once some node leads a term newer than any leader had before.
        const untilLeader = args.includes('until=leader');
        const startTerm = c.leader()?.raw.status().term ?? 0;
        for (let r = 1; r <= rounds; r++) {
          c.tickAll(1);
          c.deliverAll();
          const l = c.leader();
          if (untilLeader && l !== undefined && l.raw.status().term > startTerm) {
            c.events.push({ kind: 'note', text: `${l.id} leads term ${l.raw.status().term} after ${r} rounds` });
            return [];
          }
        }
        return [];
      }
      case 'partition': {
        const groups = args.join(' ').split('|').map((g) => g.trim().split(/\s+/).filter((s) => s !== ''));
        c.partition(groups);
        return [];
      }
      case 'heal':
        c.heal();
        return [];
      case 'propose': {
        const r = c.node(id(0)).raw.propose(args.slice(1).map(bytes));
        c.process(asNodeId(id(0)));
        if (r.ok) return [`ok index=${r.firstIndex}..${r.lastIndex} term=${r.term}`];
        return [r.reason === 'not-leader' ? `refused not-leader leader=${r.leader ?? 'none'}` : `refused ${r.reason}`];
      }
      case 'conf': {
        const change = { type: id(1), node: asNodeId(id(2)) } as ConfChange;
        const r = c.node(id(0)).raw.proposeConfChange(change);
        c.process(asNodeId(id(0)));
        if (r.ok) return [`ok index=${r.firstIndex} term=${r.term}`];
        return [r.reason === 'not-leader' ? `refused not-leader leader=${r.leader ?? 'none'}` : `refused ${r.reason}`];
      }
      case 'read-index': {
        const r = c.node(id(0)).raw.readIndex(id(1));
        c.process(asNodeId(id(0)));
        return [r.ok ? 'ok' : `refused ${r.reason}`];
      }
      case 'transfer': {
        const r = c.node(id(0)).raw.transferLeader(asNodeId(id(1)));
        c.process(asNodeId(id(0)));
        if (r.ok) return ['ok'];
        return [r.reason === 'not-leader' ? `refused not-leader leader=${r.leader ?? 'none'}` : `refused ${r.reason}`];
      }
      case 'crash':
        c.crash(id(0));
        return [];
      case 'restart':
        c.restart(id(0));
        c.process(asNodeId(id(0)));
        return [];
      case 'compact': {
        const n = c.node(id(0));
        n.compact(args[1] === undefined ? n.appliedIndex : Number(args[1]));
        const s = n.storage;
        return [`${n.id} snapshot=${s.snapshot().term}/${s.snapshot().index} first=${s.firstIndex()} last=${s.lastIndex()}`];
      }
      case 'status':
        return (args.length > 0 ? args : c.ids()).flatMap((n) => formatStatus(c, n));
      case 'log':
        return args.flatMap((n) => formatLog(c, n));
      case 'state':
        return args.map((n) => `${n}: [${c.node(n).state.join(' ')}] applied=${c.node(n).appliedIndex}`);
      default:
        throw new Error(`unknown command ${verb}`);
    }
  }
}

function formatStatus(c: TestCluster, id: string): string[] {
  const n = c.node(id);
  if (!n.up) return [`${id} DOWN`];
  const st = n.raw.status();
  const head =
    `${id} ${st.role} term=${st.term} leader=${st.leader ?? 'none'} vote=${st.vote ?? 'none'} ` +
    `commit=${st.commit} applied=${st.applied} last=${st.lastIndex} voters=${st.config.voters.join(',')}` +
    (st.config.learners.length > 0 ? ` learners=${st.config.learners.join(',')}` : '');
  const prs = (st.progress ?? []).map(
    (p) => `  ${p.id}${p.isLearner ? ' (learner)' : ''} match=${p.match} next=${p.next} ${p.state}`,
  );
  return [head, ...prs];
}

function formatLog(c: TestCluster, id: string): string[] {
  const s = c.node(id).storage;
  const snap = s.snapshot();
  const head = `${id} log: first=${s.firstIndex()} last=${s.lastIndex()} snapshot=${snap.term}/${snap.index}`;
  return [head, ...c.logOf(id).map((e) => `  ${formatEntry(e)}`)];
}

export function formatEntry(e: Entry): string {
  switch (e.kind) {
    case 'noop':
      return `${e.term}/${e.index} noop`;
    case 'config':
      return `${e.term}/${e.index} config ${text(e.data).replace(/"/g, '')}`;
    case 'normal':
      return `${e.term}/${e.index} "${text(e.data)}"`;
  }
}

export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to}`;
  switch (m.type) {
    case 'vote':
      return `${head} MsgVote term=${m.term} last=${m.lastLogTerm}/${m.lastLogIndex}${m.transfer ? ' transfer' : ''}`;
    case 'pre-vote':
      return `${head} MsgPreVote term=${m.term} last=${m.lastLogTerm}/${m.lastLogIndex}`;
    case 'vote-resp':
      return `${head} MsgVoteResp term=${m.term}${m.reject ? ' REJECT' : ''}`;
    case 'pre-vote-resp':
      return `${head} MsgPreVoteResp term=${m.term}${m.reject ? ' REJECT' : ''}`;
    case 'app': {
      const ents = m.entries.length > 0 ? ` entries=[${m.entries.map(formatEntry).join(', ')}]` : '';
      return `${head} MsgApp term=${m.term} prev=${m.prevLogTerm}/${m.prevLogIndex} commit=${m.commit}${ents}`;
    }
    case 'app-resp':
      return m.reject
        ? `${head} MsgAppResp term=${m.term} index=${m.index} REJECT hint=${m.logTermHint}/${m.rejectHint}`
        : `${head} MsgAppResp term=${m.term} index=${m.index}`;
    case 'heartbeat':
      return `${head} MsgHeartbeat term=${m.term} commit=${m.commit}${m.readContext !== null ? ` ctx=${m.readContext}` : ''}`;
    case 'heartbeat-resp':
      return `${head} MsgHeartbeatResp term=${m.term}${m.readContext !== null ? ` ctx=${m.readContext}` : ''}`;
    case 'snap':
      return `${head} MsgSnap term=${m.term} snap=${m.snapshot.term}/${m.snapshot.index} voters=${m.snapshot.voters.join(',')}`;
    case 'read-index':
      return `${head} MsgReadIndex term=${m.term} ctx=${m.context}`;
    case 'read-index-resp':
      return `${head} MsgReadIndexResp term=${m.term} ctx=${m.context} index=${m.index}`;
    case 'timeout-now':
      return `${head} MsgTimeoutNow term=${m.term}`;
  }
}

function formatEvent(e: ClusterEvent): string {
  const who = (id: NodeId) => id as string;
  switch (e.kind) {
    case 'soft': {
      const lead = e.to.leader === null ? '' : ` leader=${e.to.leader}`;
      return `${who(e.id)} is ${e.to.role} at term ${e.to.term}${lead}`;
    }
    case 'apply':
      return `${who(e.id)} applied ${formatEntry(e.entry)}`;
    case 'restore':
      return `${who(e.id)} restored snapshot ${e.term}/${e.index}`;
    case 'read':
      return `${who(e.id)} read-state ctx=${e.state.context} index=${e.state.index}`;
    case 'deliver':
      return `${formatMessage(e.m)}${e.delivered ? '' : ' DROPPED'}`;
    case 'note':
      return e.text;
  }
}
