import { Prng } from '../prng';
import { EventQueue } from './EventQueue';

/** One run of a replica process; a restart makes a new incarnation of the same id. */
export interface Endpoint {
  readonly id: string;
  readonly incarnation: number;
}

export interface Directory {
  /** The running incarnation of `id`, or undefined while it is down. */
  current(id: string): Endpoint | undefined;
}

export interface NetworkFaults {
  readonly lossRate: number;
  readonly duplicateRate: number;
  /** Each copy of a message takes 1..delayTicksMax ticks, so later messages may overtake. */
  readonly delayTicksMax: number;
}

export const noNetworkFaults: NetworkFaults = { lossRate: 0, duplicateRate: 0, delayTicksMax: 1 };

/** A call whose request or reply was lost, or whose peer was cut off or down. */
export class SimTimeout extends Error {
  override readonly name = 'SimTimeout';
}

/**
 * The in-memory network: every message is an event on the queue, with loss, duplication and
 * delay drawn from the seed, and directed cuts for partitions (a cut is checked when the message
 * is sent and again when it arrives, so a partition also catches messages in flight).
 */
export class SimNetwork {
  private readonly cuts = new Set<string>();
  readonly stats = { sent: 0, dropped: 0, duplicated: 0, timedOut: 0 };

  constructor(
    private readonly queue: EventQueue,
    private readonly prng: Prng,
    private readonly directory: Directory,
    public faults: NetworkFaults,
  ) {}

  cut(from: string, to: string): void {
    this.cuts.add(`${from}>${to}`);
  }

  healAll(): void {
    this.cuts.clear();
  }

  isCut(from: string, to: string): boolean {
    return this.cuts.has(`${from}>${to}`);
  }

  /** Sends one message; `deliver` runs on arrival, given the receiver's incarnation then. */
  send(from: Endpoint, to: string, deliver: (receiver: Endpoint) => void): void {
    // A crashed incarnation sends nothing, even if a leftover promise chain of it tries.
    if (this.directory.current(from.id)?.incarnation !== from.incarnation) return;
    this.stats.sent++;
    const copies = this.prng.chance(this.faults.duplicateRate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      if (this.isCut(from.id, to) || this.prng.chance(this.faults.lossRate)) {
        this.stats.dropped++;
        continue;
      }
      this.queue.schedule(1 + this.prng.int(this.faults.delayTicksMax), () => {
        const receiver = this.directory.current(to);
        if (receiver === undefined || this.isCut(from.id, to)) return;
        deliver(receiver);
      });
    }
  }

  /**
   * A request and its reply over `send`. Rejects with SimTimeout after `timeoutTicks` unless the
   * reply arrived first; an error thrown by the handler travels back as the rejection.
   */
  call<T>(from: Endpoint, to: string, handle: (receiver: Endpoint) => Promise<T>, timeoutTicks: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (caller: Endpoint, outcome: () => void): void => {
        if (settled || caller.incarnation !== from.incarnation) return;
        settled = true;
        timer.cancel();
        outcome();
      };
      const timer = this.queue.schedule(timeoutTicks, () => {
        if (settled) return;
        settled = true;
        this.stats.timedOut++;
        reject(new SimTimeout(`call ${from.id} -> ${to} timed out`));
      });
      this.send(from, to, (receiver) => {
        handle(receiver).then(
          (res) => this.send(receiver, from.id, (caller) => finish(caller, () => resolve(res))),
          (err: unknown) => this.send(receiver, from.id, (caller) => finish(caller, () => reject(err))),
        );
      });
    });
  }
}
