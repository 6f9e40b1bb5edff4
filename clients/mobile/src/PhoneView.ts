import { byId } from './dom';
import { menu, type OrderModel } from './OrderModel';
import type { SyncStatus } from './OrderSync';

// The phone's DOM: static/app/index.html holds the skeleton, this fills it in. Rendering is a
// full redraw of the small lists, batched to one per animation frame however many updates land.

export function euros(cents: number | bigint): string {
  const n = Number(cents);
  return `€${(n / 100).toFixed(2)}`;
}

export class PhoneView {
  readonly lines = byId<HTMLUListElement>('lines');
  readonly note = byId<HTMLTextAreaElement>('note');
  readonly pay = byId<HTMLButtonElement>('pay');
  readonly offline = byId<HTMLInputElement>('offline');
  private readonly conn = byId('conn');
  private readonly total = byId('total');
  private readonly balance = byId('balance');
  private readonly walletMsg = byId('wallet-msg');
  private scheduled = false;

  constructor(private readonly order: OrderModel, onAdd: (dishId: string) => void, onChange: (key: string, delta: number) => void) {
    byId('who').textContent = order.user;
    document.title = `${order.user} · group lunch`;
    const menuEl = byId('menu');
    for (const dish of menu) {
      const button = document.createElement('button');
      button.textContent = `+ ${dish.name} ${euros(dish.priceCents)}`;
      button.dataset.dish = dish.id;
      button.addEventListener('click', () => onAdd(dish.id));
      menuEl.append(button);
    }
    this.lines.addEventListener('click', (event) => {
      const button = (event.target as HTMLElement).closest('button');
      const key = button?.closest('li')?.dataset.key;
      if (button?.dataset.delta !== undefined && key !== undefined) onChange(key, Number(button.dataset.delta));
    });
  }

  scheduleRender(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.render();
    });
  }

  render(): void {
    const items = this.order.lines().map((line) => {
      const li = document.createElement('li');
      li.dataset.key = line.key;
      li.innerHTML = '<span class="name"></span><span class="by"></span><button data-delta="-1" aria-label="one less">−</button><b class="qty"></b><button data-delta="1" aria-label="one more">+</button>';
      (li.querySelector('.name') as HTMLElement).textContent = `${line.name} ${euros(line.priceCents)}`;
      (li.querySelector('.by') as HTMLElement).textContent = line.by;
      (li.querySelector('.qty') as HTMLElement).textContent = String(line.qty);
      return li;
    });
    this.lines.replaceChildren(...items);
    this.total.textContent = euros(this.order.totalCents());
    const due = this.order.dueCents();
    this.pay.disabled = due === 0;
    this.pay.textContent = due === 0 ? 'Nothing to pay' : `Pay my share ${euros(due)}`;
  }

  showSync(s: SyncStatus): void {
    this.conn.textContent = s.state === 'live' ? `live via ${s.node}` : s.state;
    this.conn.className = `pill ${s.state}`;
    this.conn.title = s.error;
    this.offline.checked = s.state === 'offline';
  }

  showBalance(cents: bigint | undefined): void {
    this.balance.textContent = cents === undefined ? '…' : euros(cents);
  }

  showWalletMessage(text: string, ok: boolean): void {
    this.walletMsg.textContent = text;
    this.walletMsg.className = ok ? 'ok' : 'refused';
  }
}
