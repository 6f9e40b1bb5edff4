import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

/**
 * What changes when any of `files` is replaced or rewritten, for the reloaders that poll their
 * (small) files; throws when one is missing. The content's hash too, not only inode, size and
 * modification time: an edit of the same size within the file system's time granularity would
 * otherwise go unseen.
 */
export function fileStamp(files: readonly string[]): string {
  return files.map((f) => {
    const st = statSync(f);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${createHash('sha256').update(readFileSync(f)).digest('base64')}`;
  }).join('|');
}
