import { runLoad } from './runLoad';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('runLoad', () => {
  it('counts only the calls after the warm-up and stops at the duration', async () => {
    let calls = 0;
    const res = await runLoad({ clients: 2, durationMs: 100, warmupMs: 50, op: async () => { calls++; await sleep(5); } });
    expect(res.calls).toBeGreaterThan(0);
    expect(res.calls).toBeLessThan(calls);
    expect(res.errors).toBe(0);
  });

  it('goes on past the duration until minCalls calls were made (a warm-up round in calls)', async () => {
    let calls = 0;
    const res = await runLoad({ clients: 1, durationMs: 20, warmupMs: 0, minCalls: 30, op: async () => { calls++; await sleep(2); } });
    expect(calls).toBe(30);
    expect(res.calls).toBe(30);
  });

  it('counts a call even when every call outlasts the window (goes on until one is counted)', async () => {
    const res = await runLoad({ clients: 4, durationMs: 30, warmupMs: 20, op: () => sleep(80) });
    expect(res.calls).toBeGreaterThanOrEqual(1);
    expect(res.p50Ms).toBeGreaterThanOrEqual(75);
  });

  it('never runs past ten times the duration, however many calls are asked for', async () => {
    const t0 = Date.now();
    await runLoad({ clients: 1, durationMs: 20, warmupMs: 0, minCalls: 1e9, op: () => sleep(2) });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });
});
