/**
 * V8 flags a node process runs with: the launcher (`npm start`, tests, the benchmark) and the
 * container pass them on the node's command line, and a node started by hand should too (see
 * the README's architecture section).
 *
 * `--max-semi-space-size=64` (MiB; Node 20's default is 16): much of what a node allocates
 * lives on (merged Yjs structs, the memtable's entries), so each scavenge copies a lot and
 * walks the old objects that point at new ones, and a small young generation runs one every
 * few milliseconds under load. In a heal of 10,000 updates per side the nodes spent a quarter
 * to a third of the heal in scavenges of 4 to 67 ms each. With a 64 MiB young generation, such
 * heals took 0.86, 0.85 and 0.95 of the time they took with the default (medians of 8, 16 and
 * 16 rounds alternated between two clusters; the larger one faster in 4 of 8, 13 of 16 and 12
 * of 16 of them; 32 MiB: 0.98). Writes were unchanged: 64 clients' unary LOCAL writes 0.97x
 * and puts 1.01x per second, the nodes' CPU per write equal (14 alternated rounds), sequential
 * puts' p50 0.99x. It costs up to about 100 MiB more resident memory per busy node.
 */
export const nodeV8Flags: readonly string[] = ['--max-semi-space-size=64'];
