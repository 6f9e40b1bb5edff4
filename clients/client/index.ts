// The client helper's public surface, for `import { ConcordClient, ops } from 'clients/client'`.
export { ConcordClient } from './ConcordClient';
export { DocumentWriter } from './DocumentWriter';
export type * from './ConcordClientOptions';
export { ops } from './ops';
export type * from './KvOptions';
export { kvOps, type CompareOperator, type CompareTargetName } from './kvOps';
export { prefixRangeEnd as prefixEnd } from '../../services/core/kv/prefixRangeEnd';
export { parsePath, formatPath, type PathLike } from './parsePath';
export { ackLevel, ackNames, isAck, type Ack } from './ackLevel';
export { isServiceError, statusName } from './serviceError';
export { readTls, type TlsFiles, type TlsMaterial } from './tlsFiles';
export { tlsChannelCredentials } from './tlsCredentials';
export { mayRetryOnAnotherNode } from './retryRule';
export { SagaRunner, PermanentError, SagaOwnedError, SagaLostError, type SagaDefinition, type SagaStep, type StepContext, type SagaRunnerOptions, type ResumeReport, type SagaFence } from './saga/SagaRunner';
export type { SagaRecord, SagaStatus, StepRecord } from './saga/SagaRecord';
export { kvSagaStore, type SagaStore, type KvClient } from './saga/SagaStore';
export { kvOnce, type OnceChange, type OnceContext } from './saga/kvOnce';
