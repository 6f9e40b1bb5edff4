/** Bytes copied into the result per event-loop turn (a 60 MB copy at once held the loop ~200 ms). */
const copyBytesPerTurn = 4 << 20;

const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs `parts` to its end one part per event-loop turn, so I/O and timers run between parts,
 * and returns the parts concatenated (copied a few MiB per turn too); undefined when
 * `abandon()` turned true on the way.
 */
export async function collectInTurns(parts: Iterable<Uint8Array>, abandon: () => boolean): Promise<Uint8Array | undefined> {
  const collected: Uint8Array[] = [];
  let total = 0;
  for (const part of parts) {
    collected.push(part);
    total += part.byteLength;
    await nextTurn();
    if (abandon()) return undefined;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  let sinceYield = 0;
  for (const part of collected) {
    out.set(part, at);
    at += part.byteLength;
    sinceYield += part.byteLength;
    if (sinceYield >= copyBytesPerTurn) {
      sinceYield = 0;
      await nextTurn();
      if (abandon()) return undefined;
    }
  }
  return out;
}
