import { join } from 'node:path';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import { artifactsDir } from './startDemo';

// Drives the demo page the way a person would: the phones' own buttons and note, the offline
// switches and the cluster panel's buttons. Reads state from what the page shows.

export const users = ['ann', 'ben', 'cleo', 'dev'] as const;
export type User = (typeof users)[number];

export interface PhoneState {
  lines: string;
  note: string;
}

export class DemoPage {
  private shots = 0;

  private constructor(readonly context: BrowserContext, readonly page: Page, private readonly name: string) {}

  /** A fresh browser context (own IndexedDB and service worker) on the demo page for `doc`. */
  static async open(context: BrowserContext, baseUrl: string, doc: string, name: string): Promise<DemoPage> {
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error(`[${name}] page error: ${err.message}`));
    await page.goto(`${baseUrl}?doc=${encodeURIComponent(doc)}`);
    return new DemoPage(context, page, name);
  }

  phone(user: User): Frame {
    const frame = this.page.frame({ name: `phone-${user}` });
    if (frame === null) throw new Error(`no iframe for ${user}`);
    return frame;
  }

  /** Waits until the page shows every listed phone live (optionally not on `notOn`). */
  async waitLive(who: readonly User[] = users, timeoutMs = 15_000, notOn?: string): Promise<void> {
    await Promise.all(who.map((u) => this.page.waitForFunction(([sel, bad]) => {
      const el = document.querySelector<HTMLElement>(sel);
      return el?.dataset.state === 'live' && el.dataset.node !== bad;
    }, [`[data-testid=served-${u}]`, notOn ?? ''] as const, { timeout: timeoutMs })));
  }

  async servedBy(user: User): Promise<string> {
    return (await this.page.getAttribute(`[data-testid=served-${user}]`, 'data-node')) ?? '';
  }

  async add(user: User, dish: string, times = 1): Promise<void> {
    for (let i = 0; i < times; i++) await this.phone(user).click(`button[data-dish=${dish}]`);
  }

  /**
   * Adds `text` at the end of the note in one input event, as a paste or a phone keyboard's
   * word suggestion does. Done inside the phone's frame, not with the page's one keyboard, so
   * four phones can type at the same instant without stealing each other's focus.
   */
  async appendNote(user: User, text: string): Promise<void> {
    await this.phone(user).locator('[data-testid=note]').evaluate((area: HTMLTextAreaElement, t: string) => {
      area.focus();
      area.setRangeText(t, area.value.length, area.value.length, 'end');
      area.dispatchEvent(new Event('input', { bubbles: true }));
    }, text);
  }

  /** A tap dispatched inside the phone's frame: phones tapped at the same instant do not share one mouse. */
  async tap(user: User, selector: string, times = 1): Promise<void> {
    for (let i = 0; i < times; i++) await this.phone(user).locator(selector).dispatchEvent('click');
  }

  async state(user: User): Promise<PhoneState> {
    const frame = this.phone(user);
    return { lines: await frame.innerText('[data-testid=lines]'), note: await frame.inputValue('[data-testid=note]') };
  }

  /** Polls until every listed phone shows the same order and note, and `check` accepts it. */
  async waitConverged(who: readonly User[], check: (s: PhoneState) => boolean, timeoutMs = 15_000): Promise<PhoneState> {
    const deadline = Date.now() + timeoutMs;
    let states: PhoneState[] = [];
    while (Date.now() < deadline) {
      states = await Promise.all(who.map((u) => this.state(u)));
      const first = states[0];
      if (first !== undefined && check(first) && states.every((s) => s.lines === first.lines && s.note === first.note)) return first;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`phones ${who.join(', ')} did not converge:\n${states.map((s, i) => `${who[i]}: ${JSON.stringify(s)}`).join('\n')}`);
  }

  async setOffline(user: User, offline: boolean): Promise<void> {
    await this.page.setChecked(`[data-testid=offline-${user}]`, offline);
    await this.page.waitForSelector(`[data-testid=served-${user}][data-state=${offline ? 'offline' : 'live'}]`, { timeout: 15_000 });
  }

  async walletMessage(user: User): Promise<string> {
    return (await this.phone(user).textContent('[data-testid=wallet-msg]')) ?? '';
  }

  async balance(user: User): Promise<string> {
    return (await this.phone(user).textContent('[data-testid=balance]')) ?? '';
  }

  /** A screenshot of the whole demo page, numbered in step order, kept as a test artifact. */
  async shot(step: string): Promise<void> {
    const file = `${this.name}-${String(++this.shots).padStart(2, '0')}-${step}.png`;
    await this.page.screenshot({ path: join(artifactsDir, file), fullPage: true });
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}
