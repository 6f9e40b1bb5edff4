import { quietIpServerNameWarning } from '../../services/node/quietIpServerNameWarning';

test('only DEP0123 is dropped; other warnings, in either calling form, pass through unchanged', () => {
  const calls: unknown[][] = [];
  const proc = { emitWarning: ((...args: unknown[]) => void calls.push(args)) as NodeJS.Process['emitWarning'] };
  quietIpServerNameWarning(proc);
  proc.emitWarning('Setting the TLS ServerName to an IP address is not permitted by RFC 6066.', 'DeprecationWarning', 'DEP0123');
  proc.emitWarning('same, options form', { type: 'DeprecationWarning', code: 'DEP0123' });
  proc.emitWarning('another deprecation', 'DeprecationWarning', 'DEP0005');
  proc.emitWarning('options form', { type: 'ExperimentalWarning', code: 'X1' });
  proc.emitWarning('plain');
  expect(calls).toEqual([
    ['another deprecation', 'DeprecationWarning', 'DEP0005'],
    ['options form', { type: 'ExperimentalWarning', code: 'X1' }],
    ['plain'],
  ]);
});
