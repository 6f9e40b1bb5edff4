import { IndexeddbPersistence } from 'y-indexeddb';
import * as Y from 'yjs';
import { ConcordWebApi } from './ConcordWebApi';
import type { CallRecord } from './grpcWebCall';
import { bindTextarea } from './bindTextarea';
import { menu, OrderModel } from './OrderModel';
import { OrderSync, type SyncStatus } from './OrderSync';
import { phoneMessageSource, type PhoneMessage, type PhoneCommand } from './phoneMessages';
import { PhoneView } from './PhoneView';
import { explain, Wallet } from './Wallet';

// The phone app: `?user=ann&phone=p1&doc=demo/order`. Its Y.Doc lives in IndexedDB (per phone
// and document), so it opens, edits and reloads offline; OrderSync merges it with the cluster
// whenever it is online. The offline switch is remembered across reloads. In the demo page each
// phone is an iframe that reports its state to the page with postMessage.

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const user = params.get('user') ?? localStorage.getItem('concord-user') ?? 'me';
  const phone = params.get('phone') ?? user;
  const documentId = params.get('doc') ?? 'demo/order';
  const offlineKey = `concord-offline:${phone}`;
  const report = (message: Omit<PhoneMessage, 'source' | 'phone' | 'user'>): void => {
    if (window.parent !== window) window.parent.postMessage({ source: phoneMessageSource, phone, user, ...message }, location.origin);
  };

  const doc = new Y.Doc();
  const persistence = new IndexeddbPersistence(`concord:${phone}:${documentId}`, doc);
  await persistence.whenSynced;
  const order = new OrderModel(doc, user);
  // Balance reads poll every 2 s: not worth a line each in the panel's operation log.
  const api = new ConcordWebApi({ baseUrl: '', phone, onCall: (op: CallRecord) => !op.method.endsWith('/Range') && report({ op }) });
  const wallet = new Wallet(api, user);
  const view = new PhoneView(
    order,
    (dishId) => {
      const dish = menu.find((d) => d.id === dishId);
      if (dish !== undefined) order.add(dish);
    },
    (key, delta) => order.change(key, delta),
  );
  bindTextarea(order.note, view.note);
  doc.on('update', () => view.scheduleRender());
  view.render();

  let online = false;
  const refreshBalance = async (): Promise<void> => {
    if (!online) return;
    try {
      view.showBalance(await wallet.balance());
    } catch {
      // Shown again on the next refresh; the balance is informative, the pay result is not.
    }
  };
  const sync = new OrderSync(doc, api, documentId, (s: SyncStatus) => {
    view.showSync(s);
    report({ sync: s });
    if (s.state === 'live') void wallet.open().catch(() => undefined).then(refreshBalance);
  }, [persistence]);

  const setOffline = (offline: boolean): void => {
    online = !offline;
    localStorage.setItem(offlineKey, offline ? '1' : '0');
    sync.setOnline(online);
  };
  view.offline.addEventListener('change', () => setOffline(view.offline.checked));
  window.addEventListener('message', (event: MessageEvent<PhoneCommand>) => {
    if (event.origin === location.origin && event.data?.type === 'set-offline') setOffline(event.data.offline);
  });
  view.pay.addEventListener('click', () => void pay());
  const pay = async (): Promise<void> => {
    const due = order.dueCents();
    if (due === 0 || !online) return view.showWalletMessage(online ? 'nothing to pay' : 'offline: paying needs the cluster', false);
    view.pay.disabled = true;
    const result = await wallet.pay(due);
    if (result.ok) {
      order.recordPayment(due);
      view.showBalance(result.balanceCents);
      view.showWalletMessage(`paid ${(due / 100).toFixed(2)} (via ${result.node})`, true);
    } else view.showWalletMessage(result.message, false);
    view.render();
  };

  setOffline(localStorage.getItem(offlineKey) === '1');
  setInterval(() => void refreshBalance(), 2000);
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch((err: unknown) => console.warn('service worker:', explain(err)));
}

void main();
