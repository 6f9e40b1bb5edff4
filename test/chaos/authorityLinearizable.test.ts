// The authoritative path under real faults: three voters, each in its own network namespace
// (NetnsLab), a client process in each namespace talking to its local node
// (test/chaos/kvChaosClient.ts) doing puts, CAS transactions, deletes and linearizable reads on a
// few keys, counter debits with floor 0 (and small credits) on a few wallets, and lease-fenced
// writes (grant, record the fencing token, put a key with the lease, keep-alive), while a seeded
// schedule cuts nodes off (nft DROP and REJECT), isolates the leader, splits 2 against 1, cuts a
// single link, SIGKILLs nodes (the leader among them) and restarts them from their data dirs, and
// isolates one node with DROP for 8 s.
//
// Every operation is recorded with its call and return time on one monotonic clock (the
// clients' process.hrtime relative to the test's epoch) and its outcome; see kvChaosHistory.ts
// for what counts as unknown. Checks:
//   - the history is linearizable per key (registerModel for reg/, lease/ and probe/ keys;
//     counterModel for the wallets; fencingModel for the lease grants): a checker timeout fails;
//   - no counter ever went below 0 (every acknowledged value, every read, the final values);
//   - fencing tokens strictly increase in grant order; a keep-alive reports its grant's token;
//   - no acknowledged write is lost (final linearizable reads from every node are part of the
//     history; a direct check names a lost write);
//   - exactly one side of every partition makes progress: from a grace period after the cut to
//     its heal, the cut-off node's clients get only definite UNAVAILABLE or unknown outcomes,
//     and the majority's clients complete operations;
//   - after the 8 s DROP isolation heals, a KV write through the formerly isolated node succeeds
//     and the documents written on both sides meanwhile are identical on every node, both within
//     CHAOS_RECOVERY_BOUND_MS (default 10 s; the times are printed). Measured: 0.75-4.8 s. The
//     spread comes from peer connections dialled during the cut: they sit in SYN-SENT (grpc-js
//     has no connect timeout; keepalive only covers established connections) until the kernel's
//     next SYN retransmission (1, 2, 4, 8, 16 s apart), so longer cuts can recover more slowly.
//
// Replay a run with the seed it prints: CHAOS_SEED=<seed> npx jest test/chaos/authorityLinearizable
// Prove the checks can fail (each run must FAIL):
//   CHAOS_SABOTAGE=phantom       the client of n1 reports a put on reg/k0 it never sent, just
//                                before the final reads
//   CHAOS_SABOTAGE=lonely-voter  n3 is started with an empty --peers list: it believes it is a
//                                one-voter cluster and decides on its own
import { type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { checkLinearizable, type CheckResult, type Model, type Operation } from '../sim/checkers/linearizability';
import { counterModel } from '../sim/checkers/counterModel';
import { fencingModel } from '../sim/checkers/fencingModel';
import { registerModel } from '../sim/checkers/registerModel';
import { makePrng, type Prng } from '../sim/prng';
import { counterHistory, fencingHistory, lostWrites, prefixes, registerHistory, type OpRecord } from './kvChaosHistory';
import { chaosSkipReason, NetnsLab, type Verdict } from './NetnsLab';
import { warnSkipped } from '../integration/warnSkipped';
import { nodeV8Flags } from '../../services/node/nodeV8Flags';

const repoRoot = path.resolve(__dirname, '..', '..');
const nodeIds = ['n1', 'n2', 'n3'] as const;
type NodeId = (typeof nodeIds)[number];
const hostOf = (id: NodeId): string => `h${id.slice(1)}`;
const port = 7000;
const workersPerClient = 4;
const initialBalance = 150;
const warmUpMs = 2000;
/** Time after a cut by which the cut-off side must answer only UNAVAILABLE (the fast path
 * needs 2 election timeouts = 1 s without hearing from a majority; the rest is slack). */
const graceMs = 1500;
const gapMs = 1500;
const longDropMs = 8000;
const recoveryBoundMs = Number(process.env.CHAOS_RECOVERY_BOUND_MS ?? 10_000);
const checkerTimeoutMs = Number(process.env.CHAOS_CHECKER_TIMEOUT_MS ?? 20_000);
const sabotage = process.env.CHAOS_SABOTAGE ?? '';
const seed = process.env.CHAOS_SEED !== undefined && process.env.CHAOS_SEED !== '' ? Number(process.env.CHAOS_SEED) : randomInt(1, 2 ** 31 - 1);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const epochNs = process.hrtime.bigint();
/** The one clock of the run: ms since the epoch, as the clients measure it too. */
const nowMs = (): number => Number(process.hrtime.bigint() - epochNs) / 1e6;

// ---------------------------------------------------------------------------------------------
// Processes in the lab, addressed by PID; stdout is JSON lines.

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type Json = Record<string, unknown> & { ev?: string; event?: string };

class Proc {
  readonly exited: Promise<Exit>;
  readonly stderrTail: string[] = [];
  private readonly waiters: { pred: (j: Json) => boolean; resolve: (j: Json) => void }[] = [];
  private done = false;

  constructor(readonly label: string, readonly child: ChildProcess, private readonly onJson: (j: Json) => void = () => undefined) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      let j: Json;
      try {
        j = JSON.parse(line) as Json;
      } catch {
        return;
      }
      const i = this.waiters.findIndex((w) => w.pred(j));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(j);
      else this.onJson(j);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 40) this.stderrTail.shift();
    });
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => {
      this.done = true;
      resolve({ code, signal });
    }));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return !this.done;
  }

  /** The next JSON line with `ev` (or `event`) = `what`, or an error naming this process. */
  waitFor(what: string, timeoutMs: number): Promise<Json> {
    return new Promise((resolve, reject) => {
      const waiter = { pred: (j: Json) => j.ev === what || j.event === what, resolve: (j: Json) => { clearTimeout(timer); resolve(j); } };
      const fail = (why: string): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`${this.label}: ${why} waiting for "${what}"\n--- stderr of ${this.label} ---\n${this.stderrTail.join('\n')}`));
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      this.waiters.push(waiter);
      void this.exited.then((e) => {
        if (this.waiters.includes(waiter)) {
          clearTimeout(timer);
          fail(`exited (code ${e.code}, signal ${e.signal})`);
        }
      });
    });
  }

  /** Sends a command and waits for its answer. */
  ask(cmd: string, answer: string, timeoutMs: number): Promise<Json> {
    const p = this.waitFor(answer, timeoutMs);
    this.send(cmd);
    return p;
  }

  send(line: string): void {
    if (this.running) this.child.stdin?.write(`${line}\n`);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    if (this.running && this.pid > 0) {
      try {
        process.kill(this.pid, signal);
      } catch {
        // already gone
      }
    }
    return this.exited;
  }
}

// ---------------------------------------------------------------------------------------------
// The fault schedule.

type Step =
  | { kind: 'isolate'; who: 'leader' | 'follower'; verdict: Verdict; ms: number }
  | { kind: 'split'; alone: NodeId; verdict: Verdict; ms: number }
  | { kind: 'bridge'; a: NodeId; b: NodeId; verdict: Verdict; ms: number }
  | { kind: 'kill'; who: 'leader' | NodeId; downMs: number }
  | { kind: 'longDrop'; who: 'leader' | 'follower'; ms: number };

function shuffle<T>(rand: Prng, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rand.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function makeSchedule(rand: Prng): Step[] {
  const verdict = (): Verdict => (rand.chance(0.5) ? 'drop' : 'reject');
  // Long enough that the majority completes operations after the grace period even when its
  // workers first sit out calls stuck on a DROPped old leader (client deadline 2 s).
  const ms = (): number => 3000 + rand.int(1000);
  const first = verdict();
  const [a, b] = shuffle(rand, nodeIds) as [NodeId, NodeId];
  return shuffle(rand, [
    { kind: 'isolate', who: 'leader', verdict: first, ms: ms() },
    { kind: 'isolate', who: 'follower', verdict: first === 'drop' ? 'reject' : 'drop', ms: ms() },
    { kind: 'split', alone: rand.pick(nodeIds), verdict: verdict(), ms: ms() },
    { kind: 'bridge', a, b, verdict: verdict(), ms: ms() },
    { kind: 'kill', who: 'leader', downMs: 300 + rand.int(900) },
    { kind: 'kill', who: rand.pick(nodeIds), downMs: 300 + rand.int(900) },
    { kind: 'longDrop', who: rand.chance(0.5) ? 'leader' : 'follower', ms: longDropMs },
  ] satisfies Step[]);
}

function describeStep(s: Step): string {
  switch (s.kind) {
    case 'isolate': return `isolate the ${s.who} (${s.verdict.toUpperCase()}) for ${s.ms} ms`;
    case 'split': return `2 vs 1: ${s.alone} alone (${s.verdict.toUpperCase()}) for ${s.ms} ms`;
    case 'bridge': return `cut the ${s.a}-${s.b} link only (${s.verdict.toUpperCase()}) for ${s.ms} ms`;
    case 'kill': return `SIGKILL ${s.who === 'leader' ? 'the leader' : s.who}, restart from its data dir after ${s.downMs} ms`;
    case 'longDrop': return `isolate the ${s.who} (DROP) for ${s.ms} ms, then heal and measure recovery`;
  }
}

/** A partition window: from `from` to `to` (ms on the run's clock) `alone` is cut off. */
interface Window {
  step: number;
  alone: NodeId;
  cutAt: number;
  from: number;
  to: number;
}

interface CheckSummary {
  name: string;
  ops: number;
  result: CheckResult<unknown, unknown>;
}

function runCheck<S, I, O>(name: string, model: Model<S, I, O>, history: Operation<I, O>[]): CheckSummary {
  const result = checkLinearizable(model, history, { timeoutMs: checkerTimeoutMs });
  return { name, ops: history.length, result: result as CheckResult<unknown, unknown> };
}

// ---------------------------------------------------------------------------------------------

const skipReason = chaosSkipReason();
const testName = 'authoritative KV under real cuts, splits and SIGKILL: linearizable, bounded, fenced, one side progresses';

if (skipReason !== undefined) {
  warnSkipped('test/chaos/authorityLinearizable.test.ts', 'real network cuts between namespaces', skipReason, 'run as root with iproute2 + nftables installed (.ci/run installs them)');
  test.skip(testName, () => undefined);
} else {
  let lab: NetnsLab | undefined;
  let dir = '';
  const nodes = new Map<NodeId, Proc>();
  const clients = new Map<NodeId, Proc>();
  const events: string[] = [];
  const note = (msg: string): void => {
    const line = `[kv-chaos +${(nowMs() / 1000).toFixed(1)}s] ${msg}`;
    events.push(line);
    console.log(line);
  };
  const killAll = async (): Promise<void> => {
    const all = [...clients.values(), ...nodes.values()];
    for (const p of all) void p.kill('SIGKILL');
    const patience = new Promise<void>((r) => setTimeout(r, 5000).unref());
    await Promise.race([Promise.all(all.map((p) => p.exited)), patience]);
  };

  afterAll(async () => {
    await killAll();
    lab?.destroy();
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  });

  test(testName, async () => {
    const schedule = makeSchedule(makePrng(seed));
    // Choices that depend on the run (which node leads) draw from their own stream.
    const rand = makePrng((seed ^ 0x5bd1e995) >>> 0);
    note(`seed ${seed} (replay: CHAOS_SEED=${seed} npx jest test/chaos/authorityLinearizable)${sabotage === '' ? '' : `  SABOTAGE=${sabotage}: this run must FAIL`}`);
    schedule.forEach((s, i) => note(`  step ${i + 1}: ${describeStep(s)}`));

    lab = NetnsLab.create(nodeIds.length);
    const labRef = lab;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-kvchaos-'));
    const ipOf = (id: NodeId): string => labRef.host(hostOf(id)).ip;
    note(`lab ${lab.prefix}: ${nodeIds.map((id) => `${id}=${ipOf(id)}`).join(', ')}`);

    const startNode = async (id: NodeId): Promise<number> => {
      const started = nowMs();
      const peers = sabotage === 'lonely-voter' && id === 'n3' ? '' : nodeIds.filter((o) => o !== id).map((o) => `${o}=${ipOf(o)}:${port}`).join(',');
      const child = labRef.exec(hostOf(id), [
        process.execPath, ...nodeV8Flags, '--import', 'tsx', 'services/node/main.ts',
        '--id', id, '--listen', `${ipOf(id)}:${port}`, '--peers', peers, '--data-dir', path.join(dir, id),
      ], { cwd: repoRoot, env: { ...process.env, CONCORD_ADMIN_TOKEN: 'kv-chaos-admin-token' }, stdio: ['ignore', 'pipe', 'pipe'] });
      const proc = new Proc(id, child);
      nodes.set(id, proc);
      await proc.waitFor('ready', 45_000);
      return nowMs() - started;
    };

    const records: OpRecord[] = [];
    const startClient = (id: NodeId, index: number): Proc => {
      const argv = [
        process.execPath, '--import', 'tsx', 'test/chaos/kvChaosClient.ts',
        '--target', `${ipOf(id)}:${port}`, '--node', id, '--client', String(index), '--epoch-ns', String(epochNs),
        '--workers', String(workersPerClient), '--seed', String((seed + index) >>> 0), '--deadline-ms', '2000',
      ];
      if (sabotage === 'phantom' && id === 'n1') argv.push('--sabotage', 'phantom');
      const child = labRef.exec(hostOf(id), argv, { cwd: repoRoot, env: process.env, stdio: ['pipe', 'pipe', 'pipe'] });
      const proc = new Proc(`client of ${id}`, child, (j) => {
        if (j.ev === 'ops') records.push(...(j.ops as OpRecord[]));
      });
      clients.set(id, proc);
      return proc;
    };
    const client = (id: NodeId): Proc => clients.get(id)!;

    /** The leader as the nodes see it (highest term wins; undefined when nobody knows one). */
    const findLeader = async (): Promise<NodeId | undefined> => {
      const views = await Promise.all(nodeIds.map((id) => client(id).ask('leader', 'leader', 3000).catch(() => undefined)));
      let best: { leader: string; term: number } | undefined;
      for (const v of views) {
        if (v === undefined || typeof v.leader !== 'string' || v.leader === '') continue;
        const term = Number(v.term);
        if (best === undefined || term > best.term) best = { leader: v.leader, term };
      }
      return nodeIds.find((id) => id === best?.leader);
    };
    const isolate = (x: NodeId, verdict: Verdict): Promise<unknown> =>
      Promise.all(nodeIds.filter((o) => o !== x).map((o) => (verdict === 'drop' ? labRef.cut(hostOf(x), hostOf(o)) : labRef.reject(hostOf(x), hostOf(o)))));

    const windows: Window[] = [];
    const recovery: { kvMs?: number; docsMs?: number; isolated?: NodeId; docTags?: number } = {};
    const problems: string[] = [];

    try {
      const ready = await Promise.all(nodeIds.map(startNode));
      note(`3 nodes ready (${ready.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')})`);
      await Promise.all(nodeIds.map((id, i) => startClient(id, i + 1).waitFor('ready', 45_000)));
      // The credits go once a leader is elected: a slow first election must not make them fail.
      const electedBy = nowMs() + 20_000;
      while ((await findLeader()) === undefined) {
        if (nowMs() > electedBy) throw new Error('INVALID RUN: no leader elected within 20 s of start');
        await sleep(100);
      }
      const credited = await client('n1').ask(`credit ${initialBalance}`, 'credited', 20_000);
      if (credited.ok !== true) throw new Error('INVALID RUN: the initial credits did not all succeed');
      note(`3 clients ready; wallets credited with ${initialBalance} each`);
      for (const id of nodeIds) client(id).send('go');

      const warmFrom = nowMs();
      await sleep(warmUpMs);
      const warmOk = records.filter((r) => r.r === 'ok' && r.call >= warmFrom).length;
      note(`warm-up: ${warmOk} completed operations in ${warmUpMs} ms (${(warmOk * 1000 / warmUpMs).toFixed(0)}/s)`);
      if (warmOk < 50) throw new Error(`INVALID RUN: only ${warmOk} operations completed during the warm-up (need >= 50)`);

      for (const [i, step] of schedule.entries()) {
        const n = i + 1;
        if (step.kind === 'isolate' || step.kind === 'split' || step.kind === 'longDrop') {
          const leader = step.kind === 'split' ? undefined : await findLeader();
          const alone: NodeId = step.kind === 'split' ? step.alone
            : step.who === 'leader' ? (leader ?? rand.pick(nodeIds))
              : rand.pick(nodeIds.filter((id) => id !== leader));
          const verdict: Verdict = step.kind === 'longDrop' ? 'drop' : step.verdict;
          await isolate(alone, verdict);
          const cutAt = nowMs();
          note(`step ${n}: ${describeStep(step)}: ${alone} cut off${leader === undefined ? '' : ` (leader was ${leader})`}  [rules: ${labRef.describeFaults()}]`);
          if (step.kind !== 'longDrop') {
            await sleep(step.ms);
            windows.push({ step: n, alone, cutAt, from: cutAt + graceMs, to: nowMs() });
            await labRef.heal();
          } else {
            // Documents written on both sides while cut off, then heal and time the recovery.
            let tags = 0;
            const acked: string[] = [];
            while (nowMs() - cutAt < step.ms - 1000) {
              await sleep(1200);
              const round = nodeIds.map((id) => `s${n}-${id}-${++tags}`);
              const res = await Promise.all(nodeIds.map((id, k) => client(id).ask(`docwrite ${round[k]}`, 'docwrite', 5000).catch(() => undefined)));
              for (const r of res) if (r?.ok === true) acked.push(String(r.tag));
            }
            await sleep(Math.max(0, cutAt + step.ms - nowMs()));
            windows.push({ step: n, alone, cutAt, from: cutAt + graceMs, to: nowMs() });
            await labRef.heal();
            const healedAt = nowMs();
            note(`  healed after ${((healedAt - cutAt) / 1000).toFixed(1)} s; ${acked.length} document writes acked meanwhile (both sides); measuring recovery`);
            recovery.isolated = alone;
            recovery.docTags = acked.length;
            const kv = (async () => {
              for (let k = 0; nowMs() - healedAt < recoveryBoundMs + 10_000; k++) {
                const p = await client(alone).ask(`probe ${k}`, 'probe', 5000).catch(() => undefined);
                if (p?.r === 'ok') return nowMs() - healedAt;
                await sleep(100);
              }
              return undefined;
            })();
            const docs = (async () => {
              while (nowMs() - healedAt < recoveryBoundMs + 10_000) {
                const dumps = await Promise.all(nodeIds.map((id) => client(id).ask('docdump', 'docdump', 5000).catch(() => undefined)));
                const texts = dumps.map((d) => (d === undefined || d.error !== undefined ? undefined : JSON.stringify(d.docs)));
                const complete = texts[0] !== undefined && texts.every((t) => t === texts[0])
                  && acked.every((tag) => Object.values((dumps[0]?.docs ?? {}) as Record<string, string | null>).every((json) => json !== null && (JSON.parse(json) as { m?: Record<string, string> }).m?.[tag] === tag));
                if (complete) return nowMs() - healedAt;
                await sleep(100);
              }
              return undefined;
            })();
            [recovery.kvMs, recovery.docsMs] = await Promise.all([kv, docs]);
            // How the probes went, to see where the time goes: outcome (gRPC code) at +ms after the heal.
            const probes = records.filter((r) => r.op.k === 'put' && r.op.key === `${prefixes.probe}${alone}` && r.call >= healedAt);
            note(`  probes through ${alone}: ${probes.map((r) => `${r.r}${r.code === undefined ? '' : `(${r.code})`}@+${(r.call - healedAt).toFixed(0)}..${(r.ret - healedAt).toFixed(0)}`).join(' ')}`);
            const firstOk = records.filter((r) => r.n === alone && r.r === 'ok' && r.call >= healedAt && r.op.k !== 'put').sort((x, y) => x.ret - y.ret)[0];
            if (firstOk !== undefined) note(`  first worker operation completed through ${alone}: ${firstOk.op.k} at +${(firstOk.ret - healedAt).toFixed(0)} ms`);
            const fmt = (ms: number | undefined): string => (ms === undefined ? `NOT within ${((recoveryBoundMs + 10_000) / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(2)} s`);
            note(`  recovery after the ${step.ms / 1000} s DROP of ${alone}: KV write through ${alone} ok after ${fmt(recovery.kvMs)}, documents identical on all nodes after ${fmt(recovery.docsMs)} (bound ${recoveryBoundMs / 1000} s)`);
            if (recovery.kvMs === undefined || recovery.kvMs > recoveryBoundMs) problems.push(`after the long DROP of ${alone}: no KV write through it within ${recoveryBoundMs} ms of the heal (${fmt(recovery.kvMs)})`);
            if (recovery.docsMs === undefined || recovery.docsMs > recoveryBoundMs) problems.push(`after the long DROP of ${alone}: documents not converged within ${recoveryBoundMs} ms of the heal (${fmt(recovery.docsMs)})`);
          }
        } else if (step.kind === 'bridge') {
          await (step.verdict === 'drop' ? labRef.cut(hostOf(step.a), hostOf(step.b)) : labRef.reject(hostOf(step.a), hostOf(step.b)));
          note(`step ${n}: ${describeStep(step)}  [rules: ${labRef.describeFaults()}]`);
          await sleep(step.ms);
          await labRef.heal();
        } else {
          const victim = step.who === 'leader' ? (await findLeader()) ?? rand.pick(nodeIds) : step.who;
          const exit = await nodes.get(victim)!.kill('SIGKILL');
          note(`step ${n}: ${describeStep(step)}: killed ${victim} (signal ${exit.signal})`);
          await sleep(step.downMs);
          const readyMs = await startNode(victim);
          note(`  ${victim} restarted from its data dir, ready in ${(readyMs / 1000).toFixed(1)} s`);
        }
        await sleep(gapMs);
      }
      await labRef.heal();
      note(`schedule done; stopping the clients`);

      const stopped = await Promise.all(nodeIds.map((id) => client(id).ask('stop', 'stopped', 20_000)));
      for (const [k, s] of stopped.entries()) note(`  client of ${nodeIds[k]}: ${JSON.stringify(s.counts)}`);
      // Final linearizable reads from every node (retried until the node serves them).
      const finals = await Promise.all(nodeIds.map(async (id) => {
        for (let attempt = 0; attempt < 10; attempt++) {
          const f = await client(id).ask('final', 'final', 30_000);
          if (f.ok === true) return true;
          await sleep(500);
        }
        return false;
      }));
      nodeIds.forEach((id, k) => { if (!finals[k]) problems.push(`${id} never served the final linearizable reads`); });
      await sleep(200); // the last ops batch precedes the answer on the same pipe; let it be read
      note('final reads done; stopping every process');
    } catch (err) {
      for (const [id, p] of nodes) console.log(`--- last stderr lines of ${id} (pid ${p.pid}) ---\n${p.stderrTail.slice(-20).join('\n')}`);
      for (const [id, p] of clients) if (p.stderrTail.length > 0) console.log(`--- stderr of the client of ${id} ---\n${p.stderrTail.join('\n')}`);
      console.log(`--- timeline (seed ${seed}) ---\n${events.join('\n')}`);
      throw err;
    } finally {
      await killAll();
      lab.destroy();
    }

    // ------------------------------------------------------------------------------------------
    // The checks, on the recorded history (no process runs any more: the checker has the CPU).
    records.sort((x, y) => x.call - y.call);
    const byOutcome = (pred: (r: OpRecord) => boolean): string => {
      const c = { ok: 0, unknown: 0, fail: 0 };
      for (const r of records) if (pred(r)) c[r.r]++;
      return `${c.ok} ok / ${c.unknown} unknown / ${c.fail} UNAVAILABLE`;
    };
    note(`history: ${records.length} operations; kv ${byOutcome((r) => ['get', 'put', 'del', 'cas', 'scan'].includes(r.op.k))}; `
      + `counters ${byOutcome((r) => r.op.k === 'add' || r.op.k === 'read')}; grants ${byOutcome((r) => r.op.k === 'grant')}; keep-alives ${byOutcome((r) => r.op.k === 'keepalive')}`);

    const checks = [
      runCheck('registers (reg/, lease/, probe/)', registerModel, registerHistory(records)),
      runCheck('wallets (bounded counters)', counterModel, counterHistory(records)),
      runCheck('fencing tokens (lease grants)', fencingModel, fencingHistory(records)),
    ];
    for (const c of checks) {
      note(`checker ${c.name}: ${c.result.result} — ${c.ops} ops in ${c.result.partitions} partitions, ${c.result.steps} steps, ${c.result.elapsedMs.toFixed(0)} ms`);
      if (c.result.result !== 'ok') problems.push(`${c.name}: ${c.result.result === 'timeout' ? 'CHECKER TIMEOUT (counts as a failure)' : 'NOT LINEARIZABLE'}\n${c.result.explanation}`);
    }

    // Counters never below their floor: every acknowledged value and read, and the final values.
    for (const r of records) {
      if (r.r !== 'ok') continue;
      if (r.op.k === 'add' && r.op.applied === true && (r.op.value ?? -1) < (r.op.floor ?? -Infinity)) problems.push(`counter ${r.op.key} went to ${r.op.value} (floor ${r.op.floor}) via ${r.n}`);
      if (r.op.k === 'read' && (r.op.value ?? -1) < 0) problems.push(`counter ${r.op.key} read ${r.op.value} < 0 via ${r.n}`);
      if (r.op.k === 'keepalive' && r.op.token !== r.op.grantToken) problems.push(`keep-alive of lease ${r.op.lease} reported token ${r.op.token}, its grant had ${r.op.grantToken}`);
    }
    const finalScans = records.filter((r) => r.op.k === 'scan' && r.r === 'ok');
    const finalBalances = new Map<string, string>();
    for (const r of finalScans) {
      if (r.op.k !== 'scan' || r.op.prefix !== prefixes.wallet) continue;
      for (const [k, v] of Object.entries(r.op.kvs ?? {})) {
        if (Number(v) < 0) problems.push(`final value of ${k} on ${r.n} is ${v} < 0`);
        finalBalances.set(k, [finalBalances.get(k), `${r.n}:${v}`].filter(Boolean).join(' '));
      }
    }
    note(`final balances: ${[...finalBalances].map(([k, v]) => `${k} ${v}`).join('; ')}`);

    // No acknowledged write lost (per node's final read of reg/).
    const regKeys = [...new Set(records.flatMap((r) => ('key' in r.op && r.op.key.startsWith(prefixes.reg) ? [r.op.key] : [])))].sort();
    for (const r of finalScans) {
      if (r.op.k !== 'scan' || r.op.prefix !== prefixes.reg) continue;
      const kvs = r.op.kvs ?? {};
      const finals = new Map(regKeys.map((k) => [k, kvs[k] ?? null] as const));
      for (const p of lostWrites(records.filter((x) => x.call < r.call), finals)) problems.push(`final read via ${r.n}: ${p}`);
    }
    const finalTokens = records.filter((r) => r.op.k === 'grant' && r.r === 'ok').map((r) => (r.op.k === 'grant' ? r.op.token ?? 0 : 0));
    note(`fencing tokens: ${finalTokens.length} acknowledged grants, tokens ${Math.min(...finalTokens)}..${Math.max(...finalTokens)}`);

    // Exactly one side of every partition made progress.
    for (const w of windows) {
      const during = records.filter((r) => r.call >= w.from && r.call <= w.to && r.op.k !== 'scan');
      const cutOff = during.filter((r) => r.n === w.alone);
      const majority = during.filter((r) => r.n !== w.alone && r.r === 'ok' && r.ret <= w.to);
      const cutOffOk = cutOff.filter((r) => r.r === 'ok');
      const perNode = nodeIds.filter((id) => id !== w.alone).map((id) => `${id}: ${majority.filter((r) => r.n === id).length}`).join(', ');
      // How soon the cut-off node switched to the fast path: calls it took before it noticed hang
      // until their deadline (unknown); afterwards UNAVAILABLE comes at once. (Its workers may sit
      // in such a hung call for up to the 2 s deadline, so the first fast answer can come later.)
      const early = records.filter((r) => r.n === w.alone && r.call >= w.cutAt && r.call < w.from);
      const lastHung = Math.max(-1, ...early.filter((r) => r.r === 'unknown').map((r) => r.call - w.cutAt));
      const fast = records.filter((r) => r.n === w.alone && r.r === 'fail' && r.call >= w.cutAt && r.call <= w.to);
      const firstFast = fast[0];
      note(`step ${w.step}: ${w.alone} cut off; ${lastHung < 0 ? 'no call hung' : `calls sent up to +${lastHung.toFixed(0)} ms after the cut hung (unknown)`}, `
        + `fast UNAVAILABLE ${firstFast === undefined ? 'never' : `from +${(firstFast.call - w.cutAt).toFixed(0)} ms, answered within ${Math.max(...fast.map((r) => r.ret - r.call)).toFixed(0)} ms`}; `
        + `in the ${((w.to - w.from) / 1000).toFixed(1)} s after the grace period its clients got `
        + `${cutOff.filter((r) => r.r === 'fail').length} UNAVAILABLE, ${cutOff.filter((r) => r.r === 'unknown').length} unknown, ${cutOffOk.length} completed; `
        + `the majority completed ${majority.length} (${perNode})`);
      if (cutOffOk.length > 0) {
        problems.push(`step ${w.step}: ${w.alone} was cut off but its clients completed ${cutOffOk.length} operations, e.g. `
          + cutOffOk.slice(0, 3).map((r) => `${JSON.stringify(r.op)} [${r.call.toFixed(0)}, ${r.ret.toFixed(0)}]`).join(', '));
      }
      if (cutOff.length === 0) problems.push(`step ${w.step}: ${w.alone}'s clients attempted nothing while it was cut off (the load stopped?)`);
      if (majority.length === 0) problems.push(`step ${w.step}: the majority side (without ${w.alone}) completed no operation`);
    }

    if (recovery.isolated !== undefined) {
      note(`RECOVERY after the ${longDropMs / 1000} s DROP of ${recovery.isolated}: KV ${recovery.kvMs === undefined ? 'never' : `${(recovery.kvMs / 1000).toFixed(2)} s`}, `
        + `documents ${recovery.docsMs === undefined ? 'never' : `${(recovery.docsMs / 1000).toFixed(2)} s`} (${recovery.docTags} document writes from both sides)`);
    }
    if (problems.length > 0) {
      console.log(`--- timeline (seed ${seed}) ---\n${events.join('\n')}`);
      throw new Error(`${problems.length} problem(s) (seed ${seed}, replay: CHAOS_SEED=${seed} npx jest test/chaos/authorityLinearizable):\n- ${problems.slice(0, 12).join('\n- ')}`);
    }
    note(`PASSED: seed ${seed}`);
  }, 180_000);
}
