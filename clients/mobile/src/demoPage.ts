import { ClusterPanel } from './ClusterPanel';
import { ConcordWebApi } from './ConcordWebApi';
import { byId, cell, row, time } from './dom';
import { statusName } from './GrpcWebError';
import type { CallRecord } from './grpcWebCall';
import { phoneMessageSource, type PhoneCommand, type PhoneMessage } from './phoneMessages';

// The demo page: four phones side by side (each the real app in an iframe, with its own Y.Doc
// in its own IndexedDB) and the cluster panel. `?doc=demo/order&users=ann,ben,cleo,dev`.
// Phones report their sync state and every call they make; the page shows which node serves
// each phone, relays the offline switches, and logs operations with their trace ids.

const params = new URLSearchParams(location.search);
const documentId = params.get('doc') ?? 'demo/order';
const users = (params.get('users') ?? 'ann,ben,cleo,dev').split(',').filter((u) => u !== '');
const opsKept = 40;

interface PhoneSlot {
  readonly frame: HTMLIFrameElement;
  readonly figure: HTMLElement;
  readonly served: HTMLElement;
  readonly offline: HTMLInputElement;
}

const slots = new Map<string, PhoneSlot>();

function addPhone(user: string): void {
  const figure = document.createElement('figure');
  figure.className = 'phone';
  figure.dataset.testid = `phone-${user}`;
  figure.innerHTML = `<figcaption><b></b><span class="served" data-testid="served-${user}">starting</span>` +
    `<label><input type="checkbox" data-testid="offline-${user}"> offline</label></figcaption><iframe title="${user}'s phone"></iframe>`;
  (figure.querySelector('b') as HTMLElement).textContent = user;
  const frame = figure.querySelector('iframe') as HTMLIFrameElement;
  frame.name = `phone-${user}`;
  frame.src = `app/?${new URLSearchParams({ user, phone: user, doc: documentId })}`;
  const offline = figure.querySelector('input') as HTMLInputElement;
  offline.addEventListener('change', () => {
    const command: PhoneCommand = { type: 'set-offline', offline: offline.checked };
    frame.contentWindow?.postMessage(command, location.origin);
  });
  slots.set(user, { frame, figure, served: figure.querySelector('.served') as HTMLElement, offline });
  byId('phones').append(figure);
}

function logOp(who: string, op: CallRecord, jaegerUrl: string): void {
  const trace = cell(op.traceId === '' ? '—' : op.traceId.slice(0, 12));
  if (op.traceId !== '' && jaegerUrl !== '') {
    trace.replaceChildren(Object.assign(document.createElement('a'), { href: `${jaegerUrl}/trace/${op.traceId}`, target: '_blank', textContent: op.traceId.slice(0, 12) }));
  }
  const tr = row(cell(time(Date.now())), cell(who), cell(op.method), cell(op.node || '—'), cell(statusName(op.code), op.code === 0 ? '' : 'err'), trace);
  const body = byId('ops');
  body.prepend(tr);
  while (body.childElementCount > opsKept) body.lastElementChild?.remove();
}

function main(): void {
  byId('doc-id').textContent = documentId;
  byId<HTMLAnchorElement>('open-app').href = `app/?${new URLSearchParams({ doc: documentId })}`;
  users.forEach(addPhone);
  // Status and ledger polls are not operations anyone made: they stay out of the log.
  const polls = new ConcordWebApi({ baseUrl: '' });
  const panel = new ClusterPanel(polls, new ConcordWebApi({ baseUrl: '', onCall: (op) => logOp('panel', op, panel.jaegerUrl) }), (phone) => phone);
  window.addEventListener('message', (event: MessageEvent<PhoneMessage>) => {
    const m = event.data;
    if (event.origin !== location.origin || m?.source !== phoneMessageSource) return;
    const slot = slots.get(m.user);
    if (slot !== undefined && m.sync !== undefined) {
      slot.served.textContent = m.sync.state === 'live' ? `via ${m.sync.node}` : m.sync.state;
      slot.served.className = `served ${m.sync.state}`;
      Object.assign(slot.served.dataset, { state: m.sync.state, node: m.sync.node });
      slot.offline.checked = m.sync.state === 'offline';
      slot.figure.classList.toggle('offline', m.sync.state === 'offline');
    }
    if (m.op !== undefined) logOp(m.user, m.op, panel.jaegerUrl);
  });
  byId('jaeger-note').textContent = '';
  const poll = (): void => {
    panel.refresh().catch((err: unknown) => (byId('panel-msg').textContent = `gateway: ${String(err)}`)).finally(() => {
      byId('jaeger-note').textContent = panel.jaegerUrl === '' ? '(set CONCORD_JAEGER_URL to link traces)' : `(traces in ${panel.jaegerUrl})`;
      setTimeout(poll, 1000);
    });
  };
  poll();
}

main();
