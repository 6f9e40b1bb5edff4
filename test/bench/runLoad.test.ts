import { runLoad } from './runLoad';
import { medianMetrics, windowsOf } from './stats';

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

  it('records its measured window in wall-clock time, which medians leave out', async () => {
    const before = Date.now();
    const res = await runLoad({ clients: 1, durationMs: 60, warmupMs: 40, op: () => sleep(2) });
    const after = Date.now();
    // The window starts after the warm-up and ends when the last call returned.
    expect(res.windowFromMs).toBeGreaterThanOrEqual(before + 38);
    expect(res.windowToMs - res.windowFromMs).toBeGreaterThanOrEqual(58);
    // Two clocks (performance's and Date's) that may differ by a millisecond.
    expect(res.windowToMs).toBeLessThanOrEqual(after + 2);
    expect(windowsOf([res, { opsPerSec: 1 }])).toEqual([[res.windowFromMs, res.windowToMs]]);
    const m = medianMetrics([res, res]);
    expect(m.opsPerSec).toBe(res.opsPerSec);
    expect(Object.keys(m)).not.toContain('windowFromMs');
    expect(Object.keys(m)).not.toContain('windowToMs');
  });

  it('never runs past ten times the duration, however many calls are asked for', async () => {
    const t0 = Date.now();
    await runLoad({ clients: 1, durationMs: 20, warmupMs: 0, minCalls: 1e9, op: () => sleep(2) });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });
});
