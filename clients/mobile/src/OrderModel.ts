import * as Y from 'yjs';

// The group order as Yjs types, named the way Concord's typed operations name them, so
// `concord get <doc>` renders the same JSON the phones show:
//   items     map: line key -> map { dish, name, priceCents, by, qty: counter }
//   note      text, edited by everyone at once
//   payments  map: user -> cents paid (each user writes only their own key)
// A quantity is a counter (a map with the `$counter` marker and one entry per Yjs client id,
// as the server's counter-add writes it): concurrent +1s from several phones all count, where a
// plain number would keep only one of them.

export interface Dish {
  readonly id: string;
  readonly name: string;
  readonly priceCents: number;
}

export const menu: readonly Dish[] = [
  { id: 'pad-thai', name: 'Pad thai', priceCents: 950 },
  { id: 'dumplings', name: 'Dumplings', priceCents: 600 },
  { id: 'spring-rolls', name: 'Spring rolls', priceCents: 450 },
  { id: 'green-curry', name: 'Green curry', priceCents: 1050 },
  { id: 'mango-lassi', name: 'Mango lassi', priceCents: 350 },
];

export interface OrderLine {
  readonly key: string;
  readonly name: string;
  readonly priceCents: number;
  readonly by: string;
  readonly qty: number;
}

const counterMarker = '$counter';

export class OrderModel {
  readonly items: Y.Map<Y.Map<unknown>>;
  readonly note: Y.Text;
  readonly payments: Y.Map<number>;

  constructor(readonly doc: Y.Doc, readonly user: string) {
    this.items = doc.getMap('items');
    this.note = doc.getText('note');
    this.payments = doc.getMap('payments');
  }

  lines(): OrderLine[] {
    const out: OrderLine[] = [];
    for (const [key, line] of this.items.entries()) {
      const qty = counterValue(line.get('qty'));
      if (qty <= 0) continue;
      out.push({ key, name: String(line.get('name')), priceCents: Number(line.get('priceCents')), by: String(line.get('by')), qty });
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  /** One line per (user, dish): adding a dish again raises this user's quantity. */
  add(dish: Dish): void {
    const key = `${this.user}:${dish.id}`;
    this.doc.transact(() => {
      this.recordKinds();
      if (!this.items.has(key)) {
        const line = this.items.set(key, new Y.Map<unknown>());
        line.set('dish', dish.id);
        line.set('name', dish.name);
        line.set('priceCents', dish.priceCents);
        line.set('by', this.user);
        line.set('qty', new Y.Map<unknown>()).set(counterMarker, true);
      }
      this.change(key, 1);
    });
  }

  /** +1 / -1 on any line, whoever added it; a line at zero is hidden, not deleted. */
  change(key: string, delta: number): void {
    const counter = this.items.get(key)?.get('qty');
    if (!(counter instanceof Y.Map)) return;
    if (delta < 0 && counterValue(counter) + delta < 0) return;
    const mine = String(this.doc.clientID);
    const before = counter.get(mine);
    counter.set(mine, (typeof before === 'number' ? before : 0) + delta);
  }

  totalCents(): number {
    return this.lines().reduce((sum, l) => sum + l.priceCents * l.qty, 0);
  }

  /** What this user owes: the lines they added, less what they already paid. */
  dueCents(): number {
    const mine = this.lines().filter((l) => l.by === this.user).reduce((sum, l) => sum + l.priceCents * l.qty, 0);
    return Math.max(0, mine - (this.payments.get(this.user) ?? 0));
  }

  recordPayment(cents: number): void {
    this.doc.transact(() => {
      this.recordKinds();
      this.payments.set(this.user, (this.payments.get(this.user) ?? 0) + cents);
    });
  }

  /** Concord's `$kinds` registry, so every replica renders these types the same way. */
  recordKinds(): void {
    const kinds = this.doc.getMap<string>('$kinds');
    for (const [name, kind] of [['items', 'map'], ['note', 'text'], ['payments', 'map']] as const) {
      if (kinds.get(name) !== kind) kinds.set(name, kind);
    }
  }
}

function counterValue(counter: unknown): number {
  if (!(counter instanceof Y.Map)) return 0;
  let sum = 0;
  for (const [key, value] of counter.entries()) if (key !== counterMarker && typeof value === 'number') sum += value;
  return sum;
}
