import { readFileSync } from 'node:fs';
import { AccessPolicy } from '../core/access/AccessPolicy';
import { fileStamp } from './fileStamp';

/** Reads and checks a policy file; errors name the file. */
export function readAccessPolicy(file: string): AccessPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the access policy ${file}: ${(err as Error).message}`);
  }
  return AccessPolicy.parse(text, file);
}

/**
 * A node's access policy file, reloaded when it changes, as the TLS files are: `poll()` (on a
 * timer) notices a changed file, parses it again and, when it passes the checks, uses it for
 * every call from then on. A file caught mid-write or otherwise bad is reported once, and the
 * last good policy stays in force (a typo never opens or closes the cluster).
 */
export class ReloadingPolicy {
  private policy: AccessPolicy;
  private stamp: string;
  private refusedStamp = '';
  private loaded: number;
  private refusedWith = '';

  constructor(readonly file: string, private readonly log: (msg: string) => void, private readonly now: () => number = Date.now) {
    this.stamp = fileStamp([file]);
    this.policy = readAccessPolicy(file);
    this.loaded = now();
  }

  get current(): AccessPolicy {
    return this.policy;
  }

  /** When the policy in force was read (ms since the epoch). */
  get loadedAtMs(): number {
    return this.loaded;
  }

  /** Why the latest change of the file was refused ('' when the file in force is the latest). */
  get lastError(): string {
    return this.refusedWith;
  }

  /** Reloads when the file changed; true when a new policy took effect. */
  poll(): boolean {
    let stamp: string;
    try {
      stamp = fileStamp([this.file]);
    } catch (err) {
      return this.refuse(`missing:${(err as Error).message}`, err);
    }
    if (stamp === this.stamp) {
      // Back to the file in force (a refused edit undone): nothing refused any more.
      this.refusedStamp = '';
      this.refusedWith = '';
      return false;
    }
    let next: AccessPolicy;
    try {
      next = readAccessPolicy(this.file);
    } catch (err) {
      return this.refuse(stamp, err);
    }
    this.stamp = stamp;
    this.refusedStamp = '';
    this.refusedWith = '';
    this.policy = next;
    this.loaded = this.now();
    this.log(`access policy reloaded from ${this.file}: ${next.userCount} users, ${next.roles.size} roles`);
    return true;
  }

  private refuse(stamp: string, err: unknown): false {
    if (stamp !== this.refusedStamp) {
      this.refusedStamp = stamp;
      this.refusedWith = (err as Error).message;
      this.log(`warning: the access policy changed but was not reloaded (the previous one stays in force): ${this.refusedWith}`);
    }
    return false;
  }
}
