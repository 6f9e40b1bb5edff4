/**
 * V8 flags a node process runs with: the launcher (`npm start`, tests, the benchmark) and the
 * container pass them on the node's command line, and a node started by hand should too.
 *
 * `--max-semi-space-size=64` (MiB; Node 20's default is 16): much of what a node allocates
 * lives on (merged Yjs structs, the memtable's entries), so each scavenge copies a lot and
 * walks the old objects that point at new ones, and a small young generation runs one every
 * few milliseconds under load. Heals of 10,000 updates per side run faster with it, writes
 * the same, for up to about 100 MiB more resident memory per busy node (the measurements:
 * README, "A young generation of 64 MiB").
 */
export const nodeV8Flags: readonly string[] = ['--max-semi-space-size=64'];
