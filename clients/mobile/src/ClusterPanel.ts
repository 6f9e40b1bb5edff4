import type { PartitionEpisode, StatusResponse } from '../../../proto/gen/concord/v1/admin';
import { clusterInfoPath, type GatewayClusterInfo } from '../../../services/gateway/gatewayHeaders';
import { linkViews, planCut, planDelay, planHealAll, planIsolate, type FaultCall, type LinkView } from './clusterLinks';
import type { ConcordWebApi } from './ConcordWebApi';
import { byId, cell, row, time } from './dom';
import { renderDiagram } from './renderDiagram';

// The demo's cluster panel: every second it asks the gateway which nodes are healthy and which
// phone each serves, and each node (through the gateway, addressed by id) for its Status; every
// third second for its partition ledger. Its buttons cut, delay and heal links with
// SetLinkFaults, which the gateway signs with the admin token it holds.

const delayMs = 400;

export class ClusterPanel {
  private info: GatewayClusterInfo = { nodes: [], phones: {}, jaegerUrl: '' };
  private statuses = new Map<string, StatusResponse | undefined>();
  private episodes: { node: string; episode: PartitionEpisode }[] = [];
  private tick = 0;

  /** `polls` makes the per-second calls (not logged); `actions` makes the logged button calls. */
  constructor(private readonly polls: ConcordWebApi, private readonly actions: ConcordWebApi, private readonly userOf: (phone: string) => string) {
    byId('link-rows').addEventListener('click', (e) => this.onClick(e));
    byId('actions').addEventListener('click', (e) => this.onClick(e));
  }

  get jaegerUrl(): string {
    return this.info.jaegerUrl;
  }

  async refresh(): Promise<void> {
    const response = await fetch(clusterInfoPath, { cache: 'no-store' });
    this.info = (await response.json()) as GatewayClusterInfo;
    const ids = this.info.nodes.map((n) => n.id);
    const results = await Promise.all(ids.map((id) => this.polls.status(id).catch(() => undefined)));
    this.statuses = new Map(ids.map((id, i) => [id, results[i]]));
    if (this.tick++ % 3 === 0) {
      const ledgers = await Promise.all(ids.map((id) => this.polls.ledger(id, 10).then((l) => l.episodes.map((episode) => ({ node: id, episode }))).catch(() => [])));
      this.episodes = ledgers.flat().sort((x, y) => Number(y.episode.startedAtMs - x.episode.startedAtMs)).slice(0, 12);
    }
    this.render();
  }

  private render(): void {
    const ids = this.info.nodes.map((n) => n.id);
    const links = linkViews(ids, this.statuses);
    const leaderOf = (id: string): string => this.statuses.get(id)?.authority?.leaderId ?? '';
    renderDiagram(byId<SVGSVGElement>('diagram'), this.info.nodes.map((info) => ({
      info,
      leader: leaderOf(info.id) === info.id,
      answering: this.statuses.get(info.id) !== undefined,
      phones: info.phones.map(this.userOf),
    })), links);
    byId('node-rows').replaceChildren(...this.info.nodes.map((n) => {
      const st = this.statuses.get(n.id)?.authority;
      const role = n.role === 'master' ? '' : ` (${n.role})`;
      const tr = row(cell(`${n.id}${role}`), cell(n.healthy ? 'healthy' : `down (${n.lastError})`),
        cell(st === undefined ? '—' : `${st.role}${st.leaderId !== '' ? `, leader ${st.leaderId}` : ', no leader'}`),
        cell(st?.reachableVoters.join(', ') ?? '—'), cell(n.phones.map(this.userOf).join(', ')));
      Object.assign(tr.dataset, { testid: `node-${n.id}`, healthy: String(n.healthy), leader: st?.leaderId ?? '', reaches: st?.reachableVoters.join(',') ?? '' });
      return tr;
    }));
    byId('link-rows').replaceChildren(...links.map((l) => this.linkRow(l)));
    if (byId('actions').childElementCount === 0) this.renderActions(ids);
    byId('ledger').replaceChildren(...this.episodes.map(({ node, episode: e }) => {
      const li = document.createElement('li');
      const healed = e.healedAtMs > 0n ? time(Number(e.healedAtMs)) : 'now';
      const converged = e.convergedAtMs > 0n ? `, converged ${Number(e.convergedAtMs - e.healedAtMs)} ms after heal` : '';
      li.textContent = `${node} lost ${e.peerId} (${e.cause}) ${time(Number(e.startedAtMs))}–${healed}: ` +
        `${e.localUpdates} local / ${e.remoteUpdates} remote updates, ${e.documentsDiverged} docs${converged}`;
      return li;
    }));
  }

  private linkRow(l: LinkView): HTMLTableRowElement {
    const label = l.state === 'delayed' ? `delayed ${l.delayMs} ms` : l.state;
    const cutButton = `<button data-action="${l.state === 'cut' ? 'heal' : 'cut'}" data-a="${l.a}" data-b="${l.b}">${l.state === 'cut' ? 'heal' : 'cut'}</button>`;
    const delayButton = `<button data-action="delay" data-a="${l.a}" data-b="${l.b}" data-ms="${l.delayMs > 0 ? 0 : delayMs}">${l.delayMs > 0 ? 'no delay' : `delay ${delayMs} ms`}</button>`;
    const tr = row(cell(`${l.a} ↔ ${l.b}`), cell(label, `state-${l.state}`), cell(''));
    (tr.lastElementChild as HTMLElement).innerHTML = `${cutButton} ${delayButton}`;
    Object.assign(tr.dataset, { testid: `link-${l.a}-${l.b}`, state: l.state });
    return tr;
  }

  private renderActions(ids: readonly string[]): void {
    byId('actions').innerHTML = ids.map((id) => `<button data-action="isolate" data-a="${id}" data-testid="isolate-${id}">isolate ${id}</button>`).join('') +
      '<button data-action="heal-all" data-testid="heal-all">heal all</button>';
  }

  private onClick(event: Event): void {
    const b = (event.target as HTMLElement).closest('button')?.dataset;
    if (b?.action === undefined) return;
    const ids = this.info.nodes.map((n) => n.id);
    const [x, y] = [b.a ?? '', b.b ?? ''];
    const plans: Record<string, () => FaultCall[]> = {
      cut: () => planCut(x, y, true, this.statuses),
      heal: () => planCut(x, y, false, this.statuses),
      delay: () => planDelay(x, y, Number(b.ms), this.statuses),
      isolate: () => planIsolate(x, ids, this.statuses),
      'heal-all': () => planHealAll(ids),
    };
    const plan = plans[b.action];
    if (plan !== undefined) void this.apply(plan(), `${b.action} ${x}${y === '' ? '' : `-${y}`}`.trim());
  }

  private async apply(calls: FaultCall[], what: string): Promise<void> {
    const msg = byId('panel-msg');
    msg.textContent = `${what}…`;
    const results = await Promise.allSettled(calls.map((c) => this.actions.setLinkFaults(c.node, c.faults, c.replace)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${calls[i]?.node}: ${String(r.reason)}`] : []));
    msg.textContent = failed.length === 0 ? `${what}: done` : `${what}: ${failed.join('; ')}`;
    await this.refresh().catch(() => undefined);
  }
}
