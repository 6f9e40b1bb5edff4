import type { CallRecord } from './grpcWebCall';
import type { SyncStatus } from './OrderSync';

// What a phone iframe and the demo page say to each other (postMessage, same origin only).

export const phoneMessageSource = 'concord-phone';

/** Phone -> page: its sync state, or one call it made (for the panel's operation log). */
export interface PhoneMessage {
  source: typeof phoneMessageSource;
  phone: string;
  user: string;
  sync?: SyncStatus;
  op?: CallRecord;
}

/** Page -> phone. */
export interface PhoneCommand {
  type: 'set-offline';
  offline: boolean;
}
