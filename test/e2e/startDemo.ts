import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { buildMobileApp } from '../../clients/mobile/buildMobileApp';
import { startGateway, type Gateway } from '../../services/gateway/startGateway';
import { startTestCluster, testAdminToken, type TestCluster } from '../integration/startTestCluster';

// The whole demo for end-to-end tests: three real nodes, a real gateway holding the admin token,
// the app built into a temp dir, and headless Debian Chromium driven by playwright-core. stop()
// undoes whatever part started, in reverse, even when a later part failed.

export const chromiumPath = process.env.CONCORD_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Never fetched: the panel only links trace ids to it. */
export const jaegerUrl = 'http://jaeger.invalid:16686';
export const artifactsDir = resolve(process.env.CONCORD_E2E_ARTIFACTS ?? join(__dirname, '..', '..', '.artifacts', 'e2e'));

export function chromiumAvailable(): boolean {
  if (existsSync(chromiumPath)) return true;
  const line = '!'.repeat(100);
  console.warn(`\n${line}\n!! SKIPPED: the browser end-to-end tests need Chromium at ${chromiumPath} ` +
    `(apt-get install -y chromium; .ci/run does it)\n${line}\n`);
  return false;
}

export interface Demo {
  readonly cluster: TestCluster;
  readonly gateway: Gateway;
  readonly browser: Browser;
  stop(): Promise<void>;
}

export async function startDemo(): Promise<Demo> {
  const undo: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const step of undo.reverse()) await step().catch((err: unknown) => console.error('e2e cleanup:', err));
  };
  try {
    mkdirSync(artifactsDir, { recursive: true });
    const appDir = mkdtempSync(join(tmpdir(), 'concord-app-'));
    undo.push(async () => rmSync(appDir, { recursive: true, force: true }));
    const [cluster] = await Promise.all([startTestCluster(3), buildMobileApp(appDir)]);
    undo.push(() => cluster.stop());
    const gateway = await startGateway({
      nodes: cluster.cluster.nodes.map((n) => ({ id: n.id, address: n.address })),
      port: 0,
      adminToken: testAdminToken,
      staticDir: appDir,
      jaegerUrl,
    });
    undo.push(() => gateway.close());
    const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    undo.push(() => browser.close());
    return { cluster, gateway, browser, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
