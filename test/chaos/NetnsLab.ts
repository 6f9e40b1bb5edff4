import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

// A lab of N hosts on one machine, for tests that need real network cuts between real
// processes. Each host is a network namespace with `lo` and one veth (`eth0`) whose other end
// sits on a bridge inside a namespace of its own, so no lab traffic touches the root
// namespace. Addresses come from a private /24 that exists only inside these namespaces.
// Faults are nft rules in a table `inet chaos` (input + output filter chains) in each host's
// namespace; the whole rule set of a host is replaced atomically (`nft -f`) on every change.
//
// Cleanup: destroy() kills what runs in the lab and deletes every namespace. It also runs from
// process 'exit'/'SIGINT'/'SIGTERM' handlers and from a jest afterAll (registered when this
// module is loaded by a test file). Jest gives test code a sandboxed copy of `process`, whose
// handlers never see the real signals, and nothing runs after a SIGKILL, so each lab also
// starts a small detached reaper process that does the same cleanup once the creating process
// is gone. Finally, a new lab first deletes namespaces that earlier runs (whose process is
// gone) left behind. Only names matching `ccx<pid>-<seq>...` are ever touched.
//
// Needs root, iproute2 (`ip`) and nftables (`nft`); see chaosSkipReason().

export type Verdict = 'drop' | 'reject';

export interface LabHost {
  /** Host name in the lab: h1, h2, ... (tests may map them to node ids). */
  readonly name: string;
  /** Network namespace name (per-run prefix). */
  readonly ns: string;
  /** The host's address on the lab bridge. */
  readonly ip: string;
}

export interface NetnsLabOptions {
  /** Third octet of 10.213.<k>.0/24 (default derived from the pid; labs are isolated anyway). */
  subnet?: number;
}

interface Block {
  readonly from: string;
  readonly to: string;
  readonly verdict: Verdict;
  /** Only `from`'s output chain drops; `to` still accepts what `from` would send. */
  readonly oneWay: boolean;
}

/** Matches every namespace a lab creates: `ccx<pid>-<seq><name>`. */
export const labNamespacePattern = /^ccx(\d+)-\d+(?:br|h\d+)$/;

const liveLabs = new Set<NetnsLab>();
let labSeq = 0;
let handlersInstalled = false;

/** Why this machine cannot run a lab (undefined when it can). */
export function chaosSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return `network namespaces need root (uid ${process.getuid?.() ?? '?'})`;
  for (const [tool, args, pkg] of [['ip', ['-V'], 'iproute2'], ['nft', ['--version'], 'nftables']] as const) {
    const r = spawnSync(tool, args, { encoding: 'utf8' });
    if (r.error !== undefined || r.status !== 0) return `\`${tool}\` is not available (apt-get install -y ${pkg}): ${r.error?.message ?? r.stderr.trim()}`;
  }
  // Root in a container may still lack CAP_SYS_ADMIN/CAP_NET_ADMIN: probe once.
  const probe = `ccx${process.pid}-999h0`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  try {
    const nft = spawnSync('ip', ['netns', 'exec', probe, 'nft', 'add', 'table', 'inet', 'chaos'], { encoding: 'utf8' });
    if (nft.status !== 0) return `nft does not work inside a namespace: ${nft.stderr.trim()}`;
  } finally {
    spawnSync('ip', ['netns', 'delete', probe]);
  }
  return undefined;
}

function sh(argv: readonly string[], input?: string): string {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd as string, args, { encoding: 'utf8', input });
  if (r.error !== undefined) throw new Error(`${argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs a command without blocking the event loop (rule changes happen while tests stream). */
function run(argv: readonly string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd as string, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (e) => reject(new Error(`${argv.join(' ')}: ${e.message}`)));
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} failed (${code}): ${stderr.trim()}`))));
    child.stdin?.end(input ?? '');
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** PIDs of the processes living in a namespace (they can only be ours: we made it). */
function pidsIn(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout.split(/\s+/).filter((s) => s !== '').map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

function deleteNamespace(ns: string): void {
  for (const pid of pidsIn(ns)) killQuietly(pid);
  spawnSync('ip', ['netns', 'delete', ns]);
}

/** Deletes lab namespaces whose creating process is gone (crashed earlier runs). */
export function removeStaleNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  const removed: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    const m = labNamespacePattern.exec(ns);
    if (m === null) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || pidAlive(owner)) continue; // a live run (maybe a concurrent one)
    deleteNamespace(ns);
    removed.push(ns);
  }
  return removed;
}

// The reaper: polls the owner's PID; once the owner is gone, kills every process left in the
// lab's namespaces and deletes them. It also leaves once the namespaces are gone (destroy()).
const reaperSource = `
const { spawnSync } = require('node:child_process');
const [owner, ...namespaces] = process.argv.slice(1);
const exists = () => {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout || '';
  const names = new Set(out.split('\\n').map((l) => l.split(' ')[0]));
  return namespaces.some((ns) => names.has(ns));
};
const alive = () => { try { process.kill(Number(owner), 0); return true; } catch (e) { return e.code === 'EPERM'; } };
let ticks = 0;
setInterval(() => {
  if (alive()) {
    if (++ticks % 10 === 0 && !exists()) process.exit(0);
    return;
  }
  for (const ns of namespaces) {
    const pids = (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout || '').split(/\\s+/).filter(Boolean);
    for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL'); } catch {} }
    spawnSync('ip', ['netns', 'delete', ns]);
  }
  process.exit(0);
}, 300);
`;

function destroyAllLabs(): void {
  for (const lab of [...liveLabs]) lab.destroy();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', destroyAllLabs);
  const onSignal = (signal: NodeJS.Signals): void => {
    destroyAllLabs();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Re-raise so the process ends the way it would have without us.
    process.kill(process.pid, signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

// Loaded by a jest test file: whatever happens in the tests, the labs go at the end of the file.
const jestAfterAll = (globalThis as { afterAll?: (fn: () => void) => void }).afterAll;
if (typeof jestAfterAll === 'function') jestAfterAll(destroyAllLabs);

export class NetnsLab {
  readonly hosts: readonly LabHost[];
  readonly prefix: string;
  readonly bridgeNs: string;
  private readonly byName = new Map<string, LabHost>();
  private readonly created: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private blocks: Block[] = [];
  private applied = new Map<string, string>();
  private destroyed = false;
  private reaper: ChildProcess | undefined;
  /** Serialises rule updates so they apply in call order. */
  private ruleChain: Promise<void> = Promise.resolve();

  /** Creates the namespaces, bridge, veths, addresses and nft tables (about 0.1 s per host). */
  static create(n: number, options: NetnsLabOptions = {}): NetnsLab {
    if (!Number.isInteger(n) || n < 1 || n > 200) throw new RangeError('a lab has 1..200 hosts');
    removeStaleNamespaces();
    installHandlers();
    const lab = new NetnsLab(n, options.subnet ?? (process.pid % 250) + 1);
    liveLabs.add(lab);
    try {
      lab.startReaper();
      lab.build();
    } catch (err) {
      lab.destroy();
      throw err;
    }
    return lab;
  }

  private constructor(n: number, private readonly subnet: number) {
    this.prefix = `ccx${process.pid}-${labSeq++}`;
    this.bridgeNs = `${this.prefix}br`;
    this.hosts = Array.from({ length: n }, (_, i) => ({
      name: `h${i + 1}`,
      ns: `${this.prefix}h${i + 1}`,
      ip: `10.213.${subnet}.${i + 1}`,
    }));
    for (const h of this.hosts) this.byName.set(h.name, h);
  }

  private startReaper(): void {
    const namespaces = [this.bridgeNs, ...this.hosts.map((h) => h.ns)];
    // Own process group: a Ctrl-C in the terminal does not reach it, so it outlives the owner.
    this.reaper = spawn(process.execPath, ['-e', reaperSource, String(process.pid), ...namespaces], { detached: true, stdio: 'ignore' });
    this.reaper.unref();
  }

  private build(): void {
    const br = this.bridgeNs;
    sh(['ip', 'netns', 'add', br]);
    this.created.push(br);
    sh(['ip', '-n', br, 'link', 'set', 'lo', 'up']);
    sh(['ip', '-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
    sh(['ip', '-n', br, 'link', 'set', 'br0', 'up']);
    for (const [i, h] of this.hosts.entries()) {
      sh(['ip', 'netns', 'add', h.ns]);
      this.created.push(h.ns);
      // Interface names live inside the namespaces, so they are short and fixed (<= 15 chars).
      const bridgeSide = `v${i + 1}`;
      sh(['ip', '-n', br, 'link', 'add', bridgeSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns]);
      sh(['ip', '-n', br, 'link', 'set', bridgeSide, 'master', 'br0', 'up']);
      sh(['ip', '-n', h.ns, 'link', 'set', 'lo', 'up']);
      sh(['ip', '-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0']);
      sh(['ip', '-n', h.ns, 'link', 'set', 'eth0', 'up']);
      sh(['ip', 'netns', 'exec', h.ns, 'nft', '-f', '-'], [
        'table inet chaos {',
        '  chain input { type filter hook input priority 0; policy accept; }',
        '  chain output { type filter hook output priority 0; policy accept; }',
        '}',
      ].join('\n'));
    }
  }

  host(name: string): LabHost {
    const h = this.byName.get(name);
    if (h === undefined) throw new RangeError(`no host ${name} in this lab (${[...this.byName.keys()].join(', ')})`);
    return h;
  }

  /** Drops everything between a and b, both directions (calls hang until their deadline). */
  cut(a: string, b: string): Promise<void> {
    return this.block(a, b, 'drop');
  }

  /** Rejects everything between a and b, both directions (TCP RST / ICMP: connections fail at once). */
  reject(a: string, b: string): Promise<void> {
    return this.block(a, b, 'reject');
  }

  /** Drops only packets from `from` to `to` (in `from`'s output chain); to->from still flows. */
  cutOneWay(from: string, to: string): Promise<void> {
    this.host(from);
    this.host(to);
    this.blocks = this.blocks.filter((x) => !(x.from === from && x.to === to));
    this.blocks.push({ from, to, verdict: 'drop', oneWay: true });
    return this.apply();
  }

  /** heal(): every link; heal(a): every link of a; heal(a, b): the link between a and b. */
  heal(a?: string, b?: string): Promise<void> {
    if (a !== undefined) this.host(a);
    if (b !== undefined) this.host(b);
    this.blocks = this.blocks.filter((x) => {
      if (a === undefined) return false;
      const touchesA = x.from === a || x.to === a;
      if (b === undefined) return !touchesA;
      return !(touchesA && (x.from === b || x.to === b));
    });
    return this.apply();
  }

  /** The current faults, for logs: "h1-x-h2" (drop), "h1-r-h2" (reject), "h1->h2" (one way). */
  describeFaults(): string {
    if (this.blocks.length === 0) return 'none';
    return this.blocks.map((x) => (x.oneWay ? `${x.from}-/->${x.to}` : `${x.from}-${x.verdict === 'drop' ? 'x' : 'r'}-${x.to}`)).join(' ');
  }

  /** Spawns `argv` inside a host's namespace; the lab kills it (by PID) on destroy if still alive. */
  exec(hostName: string, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw new Error('lab destroyed');
    const h = this.host(hostName);
    // `ip netns exec` execs the program: the child's PID is the program's PID.
    const child = spawn('ip', ['netns', 'exec', h.ns, ...argv], { detached: true, ...options });
    this.children.add(child);
    child.once('close', () => this.children.delete(child));
    return child;
  }

  /** Kills what still runs in the lab, deletes every namespace it created. Idempotent, sync. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    liveLabs.delete(this);
    for (const child of this.children) if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) killQuietly(child.pid);
    for (const ns of [...this.created].reverse()) deleteNamespace(ns);
    this.created.length = 0;
    if (this.reaper?.pid !== undefined && this.reaper.exitCode === null) killQuietly(this.reaper.pid);
  }

  private block(a: string, b: string, verdict: Verdict): Promise<void> {
    this.host(a);
    this.host(b);
    if (a === b) throw new RangeError('a host cannot be cut from itself');
    this.blocks = this.blocks.filter((x) => !((x.from === a && x.to === b) || (x.from === b && x.to === a)));
    this.blocks.push({ from: a, to: b, verdict, oneWay: false });
    return this.apply();
  }

  private rulesFor(h: LabHost): string[] {
    const rules: string[] = [];
    const verdicts = (v: Verdict): string[] => (v === 'drop' ? ['drop'] : ['meta l4proto tcp reject with tcp reset', 'reject']);
    for (const x of this.blocks) {
      if (x.from === h.name || (!x.oneWay && x.to === h.name)) {
        const peer = this.host(x.from === h.name ? x.to : x.from);
        for (const v of verdicts(x.verdict)) rules.push(`add rule inet chaos output ip daddr ${peer.ip} ${v}`);
        // A reject in the output chain answers our own packet with a RST (or ICMP error) that
        // appears to come from the peer: an input rule on the peer's address would swallow it
        // and turn the reject into a silent drop. Rejecting is therefore done on output only,
        // on both hosts; a drop is enforced on both chains.
        if (!x.oneWay && x.verdict === 'drop') rules.push(`add rule inet chaos input ip saddr ${peer.ip} drop`);
      }
    }
    return rules;
  }

  private apply(): Promise<void> {
    const next = this.ruleChain.then(async () => {
      if (this.destroyed) return;
      await Promise.all(this.hosts.map(async (h) => {
        const rules = this.rulesFor(h).join('\n');
        if ((this.applied.get(h.name) ?? '') === rules) return;
        // One nft transaction per host: flush and re-add, atomically.
        await run(['ip', 'netns', 'exec', h.ns, 'nft', '-f', '-'], `flush chain inet chaos input\nflush chain inet chaos output\n${rules}\n`);
        this.applied.set(h.name, rules);
      }));
    });
    this.ruleChain = next.catch(() => undefined);
    return next;
  }
}
