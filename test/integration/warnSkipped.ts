/**
 * The banner a test file prints when it cannot run here (no root, a missing package), so a
 * skip is never silent: `file` and what it covers, why, and how to run it.
 */
export function warnSkipped(file: string, covers: string, reason: string, howToRun: string): void {
  console.warn([
    '',
    '#################################################################################',
    `#  SKIPPED: ${file} (${covers})`,
    `#  reason: ${reason}`,
    `#  ${howToRun}`,
    '#################################################################################',
    '',
  ].join('\n'));
}
