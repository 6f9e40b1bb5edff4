import type { GatewayNodeInfo } from '../../../services/gateway/gatewayHeaders';
import type { LinkState, LinkView } from './clusterLinks';

// The panel's picture: nodes on a circle (a triangle for three), links coloured by state, the
// Raft leader starred, and under each node the phones it serves, so a split is visible at a
// glance: which phones are on which side.

const svgNs = 'http://www.w3.org/2000/svg';
const colours: Readonly<Record<LinkState, string>> = { up: '#15803d', cut: '#b91c1c', delayed: '#b45309', down: '#94a3b8', unknown: '#cbd5e1' };

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(svgNs, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

export interface DiagramNode {
  readonly info: GatewayNodeInfo;
  readonly leader: boolean;
  readonly answering: boolean;
  /** Phone labels (user names) served by this node. */
  readonly phones: readonly string[];
}

export function renderDiagram(svg: SVGSVGElement, nodes: readonly DiagramNode[], links: readonly LinkView[]): void {
  const cx = 180;
  const cy = 135;
  const r = 80;
  const at = new Map(nodes.map((n, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / nodes.length;
    return [n.info.id, { x: cx + r * Math.cos(angle) * 1.35, y: cy + r * Math.sin(angle) }] as const;
  }));
  const parts: SVGElement[] = [];
  for (const link of links) {
    const a = at.get(link.a);
    const b = at.get(link.b);
    if (a === undefined || b === undefined) continue;
    const dash = link.state === 'cut' ? '6 6' : link.state === 'delayed' ? '2 4' : '';
    parts.push(el('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, stroke: colours[link.state], 'stroke-width': 4, 'stroke-dasharray': dash }));
    const label = link.state === 'delayed' ? `${link.delayMs} ms` : link.state;
    parts.push(el('text', { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 4, 'text-anchor': 'middle', fill: colours[link.state] }, label));
  }
  for (const n of nodes) {
    const p = at.get(n.info.id);
    if (p === undefined) continue;
    const fill = !n.info.healthy ? '#cbd5e1' : n.answering ? '#0f766e' : '#94a3b8';
    parts.push(el('circle', { cx: p.x, cy: p.y, r: 22, fill, stroke: n.leader ? '#fbbf24' : '#fff', 'stroke-width': n.leader ? 4 : 2 }));
    parts.push(el('text', { x: p.x, y: p.y + 4, 'text-anchor': 'middle', fill: '#fff', 'font-weight': 700 }, `${n.info.id}${n.leader ? '★' : ''}`));
    // Phones' names go on the outside of the ring, clear of the links.
    const below = p.y >= cy;
    const phones = n.phones.length === 0 ? 'no phones' : `phones: ${n.phones.join(', ')}`;
    parts.push(el('text', { x: p.x, y: below ? p.y + 40 : p.y - 30, 'text-anchor': 'middle', fill: n.phones.length === 0 ? '#94a3b8' : '#334155' }, phones));
  }
  svg.replaceChildren(...parts);
}
