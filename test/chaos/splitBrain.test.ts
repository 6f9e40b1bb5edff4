// Proves, with real node processes and real network cuts (nft rules between network
// namespaces, not the admin API), that three masters taking LOCAL writes through a seeded
// schedule of partitions, a bridge topology, a flapping link, a one-way cut and SIGKILL +
// restart lose no acknowledged write and converge to identical documents once healed.
//
// Replay a run with the seed it prints: CHAOS_SEED=<seed> npx jest test/chaos
// Prove the checker can fail: CHAOS_SABOTAGE=phantom (a client reports writes it never sent)
// or CHAOS_SABOTAGE=no-heal (n1 stays isolated after the "final heal"): both must fail.
// CHAOS_SABOTAGE=no-anti-entropy (anti-entropy interval of an hour) still converges, because a
// node also runs anti-entropy on every peer (re)connect and re-sends unacked pushes.
import { type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { chaosSkipReason, NetnsLab } from './NetnsLab';
import { warnSkipped } from '../integration/warnSkipped';
import { nodeV8Flags } from '../../services/node/nodeV8Flags';

const repoRoot = path.resolve(__dirname, '..', '..');
const nodeIds = ['n1', 'n2', 'n3'] as const;
type NodeId = (typeof nodeIds)[number];
const hostOf = (id: NodeId): string => `h${id.slice(1)}`;
const port = 7000;
const docCount = 20;
const loopsPerClient = 8;
const warmUpMs = 3000;
const minWritesPerSecond = 100;
const convergeBoundMs = Number(process.env.CHAOS_CONVERGE_MS ?? 60_000);
const sabotage = process.env.CHAOS_SABOTAGE ?? '';
const antiEntropyMs = sabotage === 'no-anti-entropy' ? 3_600_000 : 500;
const seed = process.env.CHAOS_SEED !== undefined && process.env.CHAOS_SEED !== '' ? Number(process.env.CHAOS_SEED) : randomInt(1, 2 ** 31 - 1);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** mulberry32: small, seedable, good enough for a fault schedule. */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Child processes in the lab, addressed by PID.

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

class Proc {
  readonly exited: Promise<Exit>;
  readonly stderrTail: string[] = [];
  private readonly waiters: { pred: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  private done = false;

  constructor(readonly label: string, readonly child: ChildProcess, private readonly onLine: (line: string) => void = () => undefined) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const i = this.waiters.findIndex((w) => w.pred(line));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(line);
      else this.onLine(line);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 60) this.stderrTail.shift();
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

  /** The next stdout line matching `pred` (not passed to onLine), or an error with stderr. */
  waitFor(what: string, pred: (line: string) => boolean, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const waiter = { pred, resolve: (line: string) => { clearTimeout(timer); resolve(line); } };
      const fail = (why: string): void => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${this.label}: ${why} waiting for ${what}\n--- stderr of ${this.label} ---\n${this.stderrTail.join('\n')}`));
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

  send(line: string): void {
    this.child.stdin?.write(`${line}\n`);
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

const jsonLine = (ev: string) => (line: string): boolean => line.startsWith('{') && line.includes(`"ev":"${ev}"`);

// ---------------------------------------------------------------------------------------------
// The fault schedule.

type Fault =
  | { kind: 'isolate'; x: NodeId }
  | { kind: 'twoVsOne'; x: NodeId }
  | { kind: 'bridge'; a: NodeId; b: NodeId; c: NodeId }
  | { kind: 'flap'; a: NodeId; b: NodeId }
  | { kind: 'oneWay'; from: NodeId; to: NodeId }
  | { kind: 'healthy' };

interface Step {
  fault: Fault;
  durationMs: number;
  kill?: { node: NodeId; atMs: number; downMs: number };
}

function makeSchedule(rand: () => number): Step[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const shuffle = <T>(xs: readonly T[]): T[] => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  };
  const kinds = shuffle([
    'isolate', 'twoVsOne', 'bridge', 'flap', 'oneWay',
    pick(['isolate', 'bridge', 'flap', 'oneWay', 'healthy'] as const),
    pick(['isolate', 'twoVsOne', 'bridge', 'flap', 'oneWay'] as const),
  ] as const);
  const killAt = new Set(shuffle(kinds.map((_, i) => i)).slice(0, 2));
  return kinds.map((kind, i) => {
    const [p, q, r] = shuffle(nodeIds) as [NodeId, NodeId, NodeId];
    const fault: Fault =
      kind === 'isolate' ? { kind, x: p }
        : kind === 'twoVsOne' ? { kind, x: p }
          : kind === 'bridge' ? { kind, a: p, b: q, c: r }
            : kind === 'flap' ? { kind, a: p, b: q }
              : kind === 'oneWay' ? { kind, from: p, to: q }
                : { kind };
    const step: Step = { fault, durationMs: 1500 + Math.floor(rand() * 1500) };
    if (killAt.has(i)) step.kill = { node: pick(nodeIds), atMs: 200 + Math.floor(rand() * 600), downMs: 300 + Math.floor(rand() * 700) };
    return step;
  });
}

function describeStep(s: Step): string {
  const f = s.fault;
  const what = f.kind === 'isolate' ? `isolate ${f.x} (DROP)`
    : f.kind === 'twoVsOne' ? `${f.x} against the other two (REJECT)`
      : f.kind === 'bridge' ? `bridge: ${f.a} x ${f.b} cut, ${f.c} reaches both`
        : f.kind === 'flap' ? `flapping ${f.a}-${f.b} every 300 ms`
          : f.kind === 'oneWay' ? `one-way cut ${f.from} -> ${f.to}`
            : 'healthy';
  return `${what} for ${s.durationMs} ms${s.kill ? `, SIGKILL ${s.kill.node} at +${s.kill.atMs} ms, restart after ${s.kill.downMs} ms` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// The convergence checker: identical JSON everywhere, every acked write everywhere, exact counter.

interface DocJson {
  m?: Record<string, number>;
  h?: { last?: string };
  n?: number;
}

/** Problems with the dumps (empty: converged). acked[client] = [doc, seq] pairs. */
function convergenceProblems(dumps: Map<NodeId, Record<string, string | null>>, acked: Map<number, [number, number][]>): string[] {
  const problems: string[] = [];
  const parsed = new Map<NodeId, Map<string, DocJson>>();
  for (const id of nodeIds) {
    const d = dumps.get(id);
    if (d === undefined) {
      problems.push(`${id}: no dump`);
      continue;
    }
    parsed.set(id, new Map(Object.entries(d).map(([k, v]) => [k, v === null ? {} : (JSON.parse(v) as DocJson)])));
  }
  if (problems.length > 0) return problems;
  const differing: string[] = [];
  for (let k = 0; k < docCount; k++) {
    const doc = `chaos/d${k}`;
    const texts = nodeIds.map((id) => dumps.get(id)?.[doc]);
    if (!texts.every((t) => t === texts[0])) {
      differing.push(`${doc} (${nodeIds.map((id) => `${id}:${Object.keys(parsed.get(id)?.get(doc)?.m ?? {}).length}`).join(' ')} keys)`);
    }
  }
  for (const id of nodeIds) {
    const docs = parsed.get(id)!;
    const missing: string[] = [];
    const ackedPerDoc = new Map<number, number>();
    for (const [client, writes] of acked) {
      for (const [d, s] of writes) {
        ackedPerDoc.set(d, (ackedPerDoc.get(d) ?? 0) + 1);
        if (docs.get(`chaos/d${d}`)?.m?.[`w${client}-${s}`] !== s) missing.push(`chaos/d${d}:w${client}-${s}`);
      }
    }
    if (missing.length > 0) problems.push(`${id} lacks ${missing.length} acked writes, e.g. ${missing.slice(0, 5).join(' ')}`);
    for (let k = 0; k < docCount; k++) {
      const doc = docs.get(`chaos/d${k}`) ?? {};
      const keys = Object.keys(doc.m ?? {}).length;
      const n = doc.n ?? 0;
      // Each write sets one unique key and adds 1 in one transaction: n counts the keys exactly.
      if (n !== keys) problems.push(`${id} chaos/d${k}: counter ${n} != ${keys} written keys`);
      if (n < (ackedPerDoc.get(k) ?? 0)) problems.push(`${id} chaos/d${k}: counter ${n} < ${ackedPerDoc.get(k)} acked adds`);
    }
  }
  // Lost acked writes and counter errors first: they are the worse news.
  if (differing.length > 0) problems.push(`${differing.length} documents differ between nodes: ${differing.slice(0, 4).join(', ')}${differing.length > 4 ? ', ...' : ''}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------

const skipReason = chaosSkipReason();
const testName = 'split brain with real network cuts and SIGKILL: no acked write lost, all nodes converge';

if (skipReason !== undefined) {
  warnSkipped('test/chaos/splitBrain.test.ts', 'real network cuts between namespaces', skipReason, 'run as root with iproute2 + nftables installed (.ci/run installs them)');
  test.skip(testName, () => undefined);
} else {
  let lab: NetnsLab | undefined;
  let dir = '';
  const nodes = new Map<NodeId, Proc>();
  const clients = new Map<NodeId, Proc>();
  const events: string[] = [];
  const t0 = Date.now();
  const note = (msg: string): void => {
    const line = `[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`;
    events.push(line);
    console.log(line);
  };

  afterAll(async () => {
    for (const p of [...clients.values(), ...nodes.values()]) void p.kill('SIGKILL');
    const patience = new Promise<void>((r) => setTimeout(r, 5000).unref());
    await Promise.race([Promise.all([...clients.values(), ...nodes.values()].map((p) => p.exited)), patience]);
    lab?.destroy();
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  });

  test(testName, async () => {
    const rand = prng(seed);
    const schedule = makeSchedule(rand);
    note(`seed ${seed} (replay: CHAOS_SEED=${seed} npx jest test/chaos)${sabotage === '' ? '' : `  SABOTAGE=${sabotage}${sabotage === 'no-anti-entropy' ? '' : ': this run must FAIL'}`}`);
    schedule.forEach((s, i) => note(`  step ${i + 1}: ${describeStep(s)}`));

    lab = NetnsLab.create(nodeIds.length);
    const labRef = lab;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-chaos-'));
    const ipOf = (id: NodeId): string => labRef.host(hostOf(id)).ip;
    note(`lab ${lab.prefix}: ${nodeIds.map((id) => `${id}=${ipOf(id)} (${labRef.host(hostOf(id)).ns})`).join(', ')}`);

    const startNode = async (id: NodeId): Promise<void> => {
      const peers = nodeIds.filter((o) => o !== id).map((o) => `${o}=${ipOf(o)}:${port}`).join(',');
      const child = labRef.exec(hostOf(id), [
        process.execPath, ...nodeV8Flags, '--import', 'tsx', 'services/node/main.ts',
        '--id', id, '--listen', `${ipOf(id)}:${port}`, '--peers', peers, '--data-dir', path.join(dir, id),
        '--anti-entropy-interval-ms', String(antiEntropyMs), '--heartbeat-interval-ms', '200',
      ], { cwd: repoRoot, env: { ...process.env, CONCORD_ADMIN_TOKEN: 'chaos-admin-token' }, stdio: ['ignore', 'pipe', 'pipe'] });
      const proc = new Proc(id, child);
      nodes.set(id, proc);
      await proc.waitFor('ready line', (l) => l.includes('"event":"ready"'), 45_000);
    };

    // Acked writes per client id (1..3), and a running total for the rate.
    const acked = new Map<number, [number, number][]>();
    let ackedTotal = 0;
    const startClient = (id: NodeId, index: number): Proc => {
      const argv = [
        process.execPath, '--import', 'tsx', 'test/chaos/chaosClient.ts',
        '--target', `${ipOf(id)}:${port}`, '--client', String(index), '--loops', String(loopsPerClient), '--docs', String(docCount),
      ];
      if (sabotage === 'phantom' && index === 1) argv.push('--phantom', '5');
      const list: [number, number][] = [];
      acked.set(index, list);
      const child = labRef.exec(hostOf(id), argv, { cwd: repoRoot, env: process.env, stdio: ['pipe', 'pipe', 'pipe'] });
      const proc = new Proc(`client of ${id}`, child, (line) => {
        if (!jsonLine('acked')(line)) return;
        const w = (JSON.parse(line) as { w: [number, number][] }).w;
        for (const x of w) list.push(x);
        ackedTotal += w.length;
      });
      clients.set(id, proc);
      return proc;
    };

    /** Every chaos document as each node's local client reads it (nodes that do not answer are left out). */
    const dumpAll = async (): Promise<Map<NodeId, Record<string, string | null>>> => {
      const dumps = new Map<NodeId, Record<string, string | null>>();
      await Promise.all(nodeIds.map(async (id) => {
        const c = clients.get(id)!;
        c.send('dump');
        const line = await c.waitFor('dump', jsonLine('dump'), 10_000).catch(() => undefined);
        if (line === undefined) return;
        const d = JSON.parse(line) as { docs: Record<string, string | null>; error?: string };
        if (d.error === undefined) dumps.set(id, d.docs);
      }));
      return dumps;
    };
    const ackedCounts = (): Map<number, number> => new Map([...acked].map(([c, l]) => [c, l.length]));

    try {
      await Promise.all(nodeIds.map(startNode));
      note('3 nodes ready');
      await Promise.all(nodeIds.map((id, i) => startClient(id, i + 1).waitFor('first acked write', jsonLine('ready'), 45_000)));
      note('3 clients writing');

      // Warm-up on a healthy network: the run only means something if the load is real.
      const before = ackedTotal;
      const warmStart = Date.now();
      await sleep(warmUpMs);
      const rate = ((ackedTotal - before) * 1000) / (Date.now() - warmStart);
      note(`warm-up: ${ackedTotal - before} acked writes in ${Date.now() - warmStart} ms = ${rate.toFixed(0)} writes/s (need >= ${minWritesPerSecond})`);
      if (rate < minWritesPerSecond) throw new Error(`INVALID RUN: only ${rate.toFixed(0)} acked writes/s before the faults (need >= ${minWritesPerSecond})`);

      // The fault schedule, with every client writing throughout.
      const faultsStart = Date.now();
      for (const [i, step] of schedule.entries()) {
        const f = step.fault;
        await lab.heal();
        if (f.kind === 'isolate') await Promise.all(nodeIds.filter((o) => o !== f.x).map((o) => labRef.cut(hostOf(f.x), hostOf(o))));
        if (f.kind === 'twoVsOne') await Promise.all(nodeIds.filter((o) => o !== f.x).map((o) => labRef.reject(hostOf(f.x), hostOf(o))));
        if (f.kind === 'bridge') await lab.cut(hostOf(f.a), hostOf(f.b));
        if (f.kind === 'oneWay') await lab.cutOneWay(hostOf(f.from), hostOf(f.to));
        note(`step ${i + 1}: ${describeStep(step)}  [rules: ${lab.describeFaults()}; acked so far ${ackedTotal}]`);
        const stepStart = Date.now();
        // The cut must bite: writes the majority acks from 500 ms into a partition on must not
        // reach the cut-off node before the heal.
        const cutOff = f.kind === 'isolate' || f.kind === 'twoVsOne' ? f.x : undefined;
        let mark: Map<number, number> | undefined;
        const marked = cutOff === undefined ? undefined : sleep(500).then(() => (mark = ackedCounts()));
        let flapping = f.kind === 'flap';
        const flap = f.kind !== 'flap' ? Promise.resolve() : (async () => {
          let cut = false;
          while (flapping) {
            cut = !cut;
            await (cut ? labRef.cut(hostOf(f.a), hostOf(f.b)) : labRef.heal(hostOf(f.a), hostOf(f.b)));
            await sleep(300);
          }
        })();
        const kill = step.kill;
        const killAndRestart = kill === undefined ? Promise.resolve() : (async () => {
          await sleep(kill.atMs);
          const exit = await nodes.get(kill.node)!.kill('SIGKILL');
          note(`  SIGKILL ${kill.node} (exit signal ${exit.signal})`);
          await sleep(kill.downMs);
          const restartAt = Date.now();
          await startNode(kill.node);
          note(`  ${kill.node} restarted from its data dir, ready in ${Date.now() - restartAt} ms`);
        })();
        flap.catch(() => undefined); // awaited below; do not report it as unhandled meanwhile
        // Flapping stops with the step's time; a restart may make the step longer.
        try {
          await Promise.all([sleep(step.durationMs), killAndRestart]);
        } finally {
          flapping = false;
        }
        await flap;
        await marked;
        if (cutOff !== undefined && mark !== undefined) {
          const majority = nodeIds.map((id, k) => [id, k + 1] as const).filter(([id]) => id !== cutOff);
          const during = majority.flatMap(([, c]) => (acked.get(c) ?? []).slice(mark!.get(c) ?? 0).map(([d, s]) => [c, d, s] as const));
          const theirs = (await dumpAll()).get(cutOff);
          if (theirs === undefined) note(`  (${cutOff} did not answer a dump: cut check skipped)`);
          else {
            const leaked = during.filter(([c, d, s]) => (JSON.parse(theirs[`chaos/d${d}`] ?? '{}') as DocJson).m?.[`w${c}-${s}`] !== undefined);
            note(`  cut check: ${leaked.length} of ${during.length} writes the majority acked during the partition reached ${cutOff}`);
            expect(during.length).toBeGreaterThan(0);
            expect(leaked.length).toBe(0);
          }
        }
        if (Date.now() - stepStart > step.durationMs + 200) note(`  step ${i + 1} took ${Date.now() - stepStart} ms`);
      }
      await lab.heal();
      const healedAt = Date.now();
      if (sabotage === 'no-heal') await Promise.all([lab.cut(hostOf('n1'), hostOf('n2')), lab.cut(hostOf('n1'), hostOf('n3'))]); // n1 stays isolated
      note(`healed everything after ${healedAt - faultsStart} ms of faults; stopping clients`);

      const totals = await Promise.all(nodeIds.map(async (id) => {
        const c = clients.get(id)!;
        c.send('stop');
        const line = await c.waitFor('stopped', jsonLine('stopped'), 15_000);
        return [id, JSON.parse(line) as { acked: number; failed: number; errors: Record<string, number> }] as const;
      }));
      await sleep(200); // the last acked batch precedes "stopped" on the same pipe; let it be read
      const totalAcked = [...acked.values()].reduce((s, l) => s + l.length, 0);
      for (const [id, t] of totals) note(`client of ${id}: ${t.acked} writes acked, ${t.failed} not acked ${JSON.stringify(t.errors)}`);
      note(`total acked writes: ${totalAcked}`);
      expect(totals.reduce((s, [, t]) => s + t.acked, 0)).toBe(totalAcked);

      // Converged = identical JSON on every node for every document + every acked write present.
      let problems: string[] = ['not checked yet'];
      let rounds = 0;
      while (Date.now() - healedAt < convergeBoundMs) {
        rounds++;
        problems = convergenceProblems(await dumpAll(), acked);
        if (problems.length === 0) break;
        if (rounds % 10 === 1) note(`  not converged yet (+${Date.now() - healedAt} ms): ${problems.slice(0, 3).join('; ')}`);
        await sleep(250);
      }
      const convergedMs = Date.now() - healedAt;
      if (problems.length > 0) {
        throw new Error(`NOT CONVERGED ${convergedMs} ms after the final heal (seed ${seed}):\n  ${problems.slice(0, 20).join('\n  ')}`);
      }
      note(`CONVERGED ${convergedMs} ms after the final heal (including stopping the clients), ${rounds} dump rounds; `
        + `${totalAcked} acked writes present on all 3 nodes, documents identical, counters exact. seed ${seed}`);
    } catch (err) {
      for (const [id, p] of nodes) console.log(`--- last stderr lines of ${id} (pid ${p.pid}) ---\n${p.stderrTail.slice(-25).join('\n')}`);
      for (const [id, p] of clients) if (p.stderrTail.length > 0) console.log(`--- stderr of the client of ${id} ---\n${p.stderrTail.join('\n')}`);
      console.log(`--- chaos timeline (seed ${seed}) ---\n${events.join('\n')}`);
      throw err;
    }
  }, 150_000);
}
