import { statSync } from 'node:fs';

/**
 * What changes when any of `files` is replaced or rewritten (inode, size, modification time),
 * for the reloaders that poll files; throws when one is missing.
 */
export function fileStamp(files: readonly string[]): string {
  return files.map((f) => {
    const st = statSync(f);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  }).join('|');
}
