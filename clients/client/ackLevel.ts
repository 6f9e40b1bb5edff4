import { AckLevel } from '../../proto/gen/concord/v1/documents';

// Ack levels by the names users know them by (ARCHITECTURE.md §3): local, quorum, all.

export type Ack = 'local' | 'quorum' | 'all';
export const ackNames: readonly Ack[] = ['local', 'quorum', 'all'];

const levels: Record<Ack, AckLevel> = {
  local: AckLevel.ACK_LEVEL_LOCAL,
  quorum: AckLevel.ACK_LEVEL_QUORUM,
  all: AckLevel.ACK_LEVEL_ALL,
};

/** The wire level for a name; unset means LOCAL, which is also what the node assumes. */
export function ackLevel(ack: Ack | undefined): AckLevel {
  return ack === undefined ? AckLevel.ACK_LEVEL_LOCAL : levels[ack];
}

export function isAck(text: string): text is Ack {
  return (ackNames as readonly string[]).includes(text);
}
