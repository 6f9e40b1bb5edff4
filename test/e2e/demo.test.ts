// Proves the demo end to end in real headless Chromium against three real nodes and a real
// gateway: four phones converge on one order under concurrent edits; a partition made from the
// cluster panel splits them, pay works only on the majority side, and heal converges everything
// with the right balances; an offline phone keeps its edits across a reload and merges them on
// reconnect; killing the node serving a phone moves it to another node without losing edits.
// Screenshots of the demo page at each step go to .artifacts/e2e (CONCORD_E2E_ARTIFACTS).
import { kvStubs, text } from '../integration/kvStubs';
import { DemoPage, users, type User } from './DemoPage';
import { chromiumAvailable, jaegerUrl, startDemo, type Demo } from './startDemo';

const run = chromiumAvailable() ? describe : describe.skip;

run('demo app through the gateway (headless Chromium)', () => {
  let demo: Demo;
  let open: DemoPage[] = [];
  const openDemo = async (doc: string, name: string): Promise<DemoPage> => {
    const page = await DemoPage.open(await demo.browser.newContext({ viewport: { width: 1760, height: 760 } }), demo.gateway.url, doc, name);
    open.push(page);
    return page;
  };
  const linkTestId = (a: string, b: string): string => `link-${[a, b].sort().join('-')}`;

  beforeAll(async () => {
    demo = await startDemo();
  }, 60_000);
  afterEach(async () => {
    await Promise.all(open.map((p) => p.close().catch(() => undefined)));
    open = [];
  });
  afterAll(async () => {
    await demo?.stop();
  }, 30_000);

  test('four phones edit the same order concurrently and converge', async () => {
    const d = await openDemo('e2e/converge', 'converge');
    await d.waitLive();
    await d.shot('live');
    await Promise.all(users.map((u, i) => d.tap(u, `button[data-dish=${['pad-thai', 'dumplings', 'spring-rolls', 'mango-lassi'][i]}]`, 2)));
    await Promise.all(users.map((u) => d.appendNote(u, ` ${u}-was-here`)));
    // Everyone bumps ann's pad thai at once: a counter, so all 12 clicks count.
    await d.waitConverged(users, (s) => s.lines.includes('Pad thai'));
    await Promise.all(users.map((u) => d.tap(u, 'li[data-key="ann:pad-thai"] button[data-delta="1"]', 3)));
    const final = await d.waitConverged(users, (s) => /Pad thai[^\n]*\nann\n−\n14\n/.test(s.lines));
    for (const u of users) expect(final.note).toContain(`${u}-was-here`);
    expect(final.lines.match(/\n2\n/g)?.length).toBe(3);
    const json = JSON.parse((await demo.cluster.stubs[0]!.get({ documentId: 'e2e/converge' })).json) as { items: Record<string, { qty: number }> };
    expect(json.items['ann:pad-thai']?.qty).toBe(14); // the node renders the phones' counter too
    await d.page.waitForSelector(`[data-testid=ops] a[href^="${jaegerUrl}/trace/"]`); // each operation links to its trace
    await d.shot('converged');
  }, 60_000);

  test('a partition from the panel: both sides edit, pay only on the majority, heal converges with right balances', async () => {
    const d = await openDemo('e2e/split', 'split');
    await d.waitLive();
    const ids = demo.cluster.cluster.nodes.map((n) => n.id);
    const minorityNode = await d.servedBy('ann');
    const majorityNodes = ids.filter((id) => id !== minorityNode);
    const served = await Promise.all(users.map(async (u) => [u, await d.servedBy(u)] as const));
    const minority = served.filter(([, n]) => n === minorityNode).map(([u]) => u);
    const majority = served.filter(([, n]) => n !== minorityNode).map(([u]) => u);
    const payer = majority[0] as User;
    expect(majority.length).toBeGreaterThan(0);

    await d.page.click(`[data-testid=isolate-${minorityNode}]`);
    for (const other of majorityNodes) await d.page.waitForSelector(`[data-testid=${linkTestId(minorityNode, other)}][data-state=cut]`);
    await d.page.waitForSelector(`[data-testid=node-${minorityNode}][data-reaches="${minorityNode}"]`, { timeout: 15_000 });
    await d.page.waitForFunction((nodes) => nodes.every((n) => nodes.includes(document.querySelector<HTMLElement>(`[data-testid=node-${n}]`)?.dataset.leader ?? '')), majorityNodes, { timeout: 15_000 });
    await d.shot('cut');

    await d.add('ann', 'green-curry');
    await d.appendNote('ann', ' minority-side');
    await d.add(payer, 'spring-rolls');
    await d.appendNote(payer, ' majority-side');
    const majorityView = await d.waitConverged(majority, (s) => s.lines.includes('Spring rolls') && s.note.includes('majority-side'));
    const minorityView = await d.waitConverged(minority, (s) => s.lines.includes('Green curry') && s.note.includes('minority-side'));
    expect(majorityView.lines).not.toContain('Green curry');
    expect(minorityView.lines).not.toContain('Spring rolls');

    await d.phone('ann').click('[data-testid=pay]');
    await d.phone('ann').waitForSelector('[data-testid=wallet-msg].refused');
    expect(await d.walletMessage('ann')).toContain(`no quorum: reachable voters ${minorityNode}`);
    await d.phone(payer).click('[data-testid=pay]');
    await d.phone(payer).waitForSelector('[data-testid=wallet-msg].ok');
    expect(await d.balance(payer)).toBe('€45.50');
    await d.shot('split-edits-and-pay');

    await d.page.click('[data-testid=heal-all]');
    for (const other of majorityNodes) await d.page.waitForSelector(`[data-testid=${linkTestId(minorityNode, other)}][data-state=up]`, { timeout: 15_000 });
    const healed = await d.waitConverged(users, (s) => s.lines.includes('Green curry') && s.lines.includes('Spring rolls'));
    expect(healed.note).toContain('minority-side');
    expect(healed.note).toContain('majority-side');
    for (const u of users) await d.phone(u).waitForSelector(`[data-testid=balance]:text-is("${u === payer ? '€45.50' : '€50.00'}")`, { timeout: 10_000 });
    const kv = kvStubs(demo.cluster.cluster.nodes.find((n) => n.id === minorityNode)!.address);
    try {
      expect(text((await kv.get(`wallet/${payer}`)).kvs[0]?.value)).toBe('4550');
      expect(text((await kv.get('wallet/ann')).kvs[0]?.value)).toBe('5000');
    } finally {
      kv.close();
    }
    await d.page.waitForSelector('[data-testid=ledger] li', { timeout: 10_000 });
    await d.shot('healed');
  }, 60_000);
  test('an offline phone keeps editing, keeps its edits across a reload while offline, and merges on reconnect', async () => {
    const d = await openDemo('e2e/offline', 'offline');
    await d.waitLive();
    await d.setOffline('ben', true);
    await d.add('ben', 'dumplings', 2);
    await d.appendNote('ben', 'ben-offline');
    await d.add('ann', 'mango-lassi');
    await d.waitConverged(['ann', 'cleo', 'dev'], (s) => s.lines.includes('Mango lassi'));
    const ben = d.phone('ben');
    await ben.goto(ben.url()); // reload the phone while it is still offline
    await ben.waitForSelector('[data-testid=conn]:text-is("offline")');
    const afterReload = await d.state('ben');
    expect(afterReload.lines).toMatch(/Dumplings[^\n]*\nben\n−\n2\n/);
    expect(afterReload.note).toContain('ben-offline');
    expect(afterReload.lines).not.toContain('Mango lassi');
    await d.shot('offline-after-reload');
    await d.setOffline('ben', false);
    await d.waitConverged(users, (s) => s.lines.includes('Mango lassi') && /Dumplings[^\n]*\nben\n−\n2\n/.test(s.lines) && s.note.includes('ben-offline'));
    await d.shot('merged');
  }, 60_000);

  test('the app is a PWA: a manifest, and a service worker that opens the shell with no network', async () => {
    const context = await demo.browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${demo.gateway.url}app/?user=zoe&doc=e2e/pwa`);
      await page.evaluate(async () => void (await navigator.serviceWorker.ready));
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
      const manifest = await page.evaluate(async () => (await fetch('manifest.webmanifest')).json() as Promise<Record<string, unknown>>);
      expect(manifest).toMatchObject({ display: 'standalone', start_url: './' });
      const cached = await page.evaluate(async () => {
        const names = await caches.keys();
        const cache = await caches.open(names.find((n) => n.startsWith('concord-shell-')) ?? '');
        return (await cache.keys()).map((r) => new URL(r.url).pathname);
      });
      expect(cached).toEqual(expect.arrayContaining(['/app/', '/app/index.html', '/app/app.js', '/app/app.css']));
      await page.click('button[data-dish=pad-thai]');
      await context.setOffline(true);
      await page.reload();
      await page.waitForSelector('li[data-key="zoe:pad-thai"]'); // the shell from the cache, the order from IndexedDB
      expect(await page.textContent('[data-testid=conn]')).not.toContain('live');
    } finally {
      await context.close();
    }
  }, 30_000);

  // Last: it leaves one node dead.
  test('killing the node that serves a phone moves it to another node without losing its edits', async () => {
    const d = await openDemo('e2e/failover', 'failover');
    await d.waitLive();
    const victim = await d.servedBy('cleo');
    await d.add('cleo', 'pad-thai');
    await d.appendNote('cleo', 'cleo-before-kill');
    await demo.cluster.cluster.kill(victim);
    const killedAt = Date.now();
    await d.add('cleo', 'green-curry'); // while its node is gone
    await d.waitLive(['cleo'], 10_000, victim);
    console.log(`e2e: cleo moved from ${victim} to ${await d.servedBy('cleo')} ${Date.now() - killedAt} ms after the kill`);
    await d.waitConverged(users, (s) => s.lines.includes('Pad thai') && s.lines.includes('Green curry') && s.note.includes('cleo-before-kill'));
    await d.page.waitForSelector(`[data-testid=node-${victim}][data-healthy=false]`);
    await d.shot('moved');
  }, 60_000);
});
