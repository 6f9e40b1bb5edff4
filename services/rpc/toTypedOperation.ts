import { Operation } from '../../proto/gen/concord/v1/documents';
import { parseJsonValue, TypedOperation } from '../core/crdt/typedOperation';
import { invalidArgument } from '../core/errors/DomainError';

/** Converts a protobuf operation into the core's typed operation (JSON parsed here). */
export function toTypedOperation(op: Operation): TypedOperation {
  const o = op.op;
  if (o === undefined) throw invalidArgument('operation has no kind (unknown or empty operation)');
  switch (o.$case) {
    case 'mapSet':
      return { kind: 'map-set', path: o.value.path, value: parseJsonValue(o.value.valueJson) };
    case 'mapDelete':
      return { kind: 'map-delete', path: o.value.path };
    case 'listInsert':
      return { kind: 'list-insert', path: o.value.path, index: o.value.index, values: o.value.valuesJson.map(parseJsonValue) };
    case 'listDelete':
      return { kind: 'list-delete', path: o.value.path, index: o.value.index, count: o.value.count };
    case 'textInsert':
      return { kind: 'text-insert', path: o.value.path, index: o.value.index, text: o.value.text };
    case 'textDelete':
      return { kind: 'text-delete', path: o.value.path, index: o.value.index, length: o.value.length };
    case 'counterAdd':
      return { kind: 'counter-add', path: o.value.path, delta: o.value.delta };
  }
}
