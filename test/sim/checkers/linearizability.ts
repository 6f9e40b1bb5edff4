// checkLinearizable: is there a total order of the history's operations that respects real time
// and the model's sequential specification? Partitions (when the model provides them) are
// checked independently, smallest first, under one shared step and time budget.

import { UNKNOWN, type Model, type Operation } from './Model';
import { SearchBudget, type BudgetLimit } from './SearchBudget';
import { searchPartition, type Deepest } from './searchPartition';

export { UNKNOWN, partitionByKey } from './Model';
export type { Model, Operation, Unknown } from './Model';

export interface CheckOptions {
  /** Wall-clock budget for the whole check; default 10 s. */
  timeoutMs?: number;
  /** Search-step budget for the whole check (deterministic, unlike time); default unlimited. */
  maxSteps?: number;
  /** Clock in milliseconds; injectable so that tests of the time budget are deterministic. */
  now?: () => number;
}

interface CheckStats {
  steps: number;
  elapsedMs: number;
  partitions: number;
}

/** Operations in a result are the history's own objects, except that an unknown outcome recorded
 * with a finite return is copied with `return: Infinity`. */
export type CheckResult<I, O> =
  | (CheckStats & {
      result: 'ok';
      /** One witness order per partition, in the model's partition order. */
      linearizations: Operation<I, O>[][];
    })
  | (CheckStats & {
      result: 'illegal';
      explanation: string;
      /** Index of the failing partition, in the model's partition order. */
      partition: number;
      longestPrefix: Operation<I, O>[];
      /** Operations pending after the longest prefix; none of them could go next. */
      stuck: Operation<I, O>[];
      /** The operation that returned before any pending operation could take effect. */
      blockedBy: Operation<I, O>;
    })
  | (CheckStats & {
      /** Neither proven linearizable nor illegal; callers must treat it as a failure. */
      result: 'timeout';
      explanation: string;
      partition: number;
      exhausted: BudgetLimit;
    });

const defaultTimeoutMs = 10_000;
const prefixShownMax = 8;

export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  opts: CheckOptions = {},
): CheckResult<I, O> {
  const ops = history.map(normalize);
  const parts = model.partition ? model.partition(ops) : [ops];
  const budget = new SearchBudget(
    opts.maxSteps ?? Infinity,
    opts.timeoutMs ?? defaultTimeoutMs,
    opts.now ?? (() => performance.now()),
  );
  const linearizations: Operation<I, O>[][] = parts.map(() => []);
  const bySize = parts.map((part, index) => ({ part, index })).sort((a, b) => a.part.length - b.part.length);
  for (const { part, index } of bySize) {
    const outcome = searchPartition(model, part, budget);
    const stats = { steps: budget.steps, elapsedMs: budget.elapsedMs, partitions: parts.length };
    if (outcome.kind === 'timeout') {
      const exhausted = budget.exhausted ?? 'steps';
      const explanation =
        `timeout: the ${exhausted} budget ran out after ${stats.steps} steps (${Math.round(stats.elapsedMs)} ms) ` +
        `in partition ${index} of ${parts.length} (${part.length} ops); the history is neither ` +
        'proven linearizable nor illegal';
      return { ...stats, result: 'timeout', explanation, partition: index, exhausted };
    }
    if (outcome.kind === 'illegal') {
      const pick = (i: number): Operation<I, O> => at(part, i);
      return {
        ...stats,
        result: 'illegal',
        explanation: explain(model, part, index, parts.length, outcome.deepest),
        partition: index,
        longestPrefix: outcome.deepest.prefix.map(pick),
        stuck: outcome.deepest.candidates.map(pick),
        blockedBy: pick(outcome.deepest.blockedBy),
      };
    }
    linearizations[index] = outcome.order.map((i) => at(part, i));
  }
  return { result: 'ok', steps: budget.steps, elapsedMs: budget.elapsedMs, partitions: parts.length, linearizations };
}

/** Unknown outcomes may take effect at any time after the call, whatever return was recorded. */
function normalize<I, O>(op: Operation<I, O>, index: number): Operation<I, O> {
  if (!Number.isFinite(op.call) || !(op.return >= op.call)) {
    throw new Error(`checkLinearizable: operation ${index} has call ${op.call} and return ${op.return}`);
  }
  return op.output === UNKNOWN && op.return !== Infinity ? { ...op, return: Infinity } : op;
}

function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`checkLinearizable: no operation at index ${index}`);
  return item;
}

export function describeOperation<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string {
  const what = model.describeOperation?.(op.input, op.output) ?? `${JSON.stringify(op.input)} -> ${JSON.stringify(op.output)}`;
  const returned = op.return === Infinity ? 'never' : String(op.return);
  return `client ${op.clientId}: ${what} [${op.call}, ${returned}]`;
}

function explain<S, I, O>(
  model: Model<S, I, O>,
  part: readonly Operation<I, O>[],
  index: number,
  partitions: number,
  deepest: Deepest<S>,
): string {
  const line = (i: number): string => `  ${describeOperation(model, at(part, i))}`;
  const shown = deepest.prefix.slice(-prefixShownMax);
  const hidden = deepest.prefix.length - shown.length;
  const state = model.describeState?.(deepest.state) ?? JSON.stringify(deepest.state);
  return [
    `not linearizable: partition ${index} (of ${partitions}, ${part.length} ops); ` +
      `the longest linearizable prefix has ${deepest.prefix.length} ops` + (hidden > 0 ? `, the last ${shown.length}:` : ':'),
    ...shown.map(line),
    `state after it: ${state}`,
    'pending operations, none of which can take effect next:',
    ...deepest.candidates.map(line),
    'so the prefix cannot be extended past the return of:',
    line(deepest.blockedBy),
  ].join('\n');
}
