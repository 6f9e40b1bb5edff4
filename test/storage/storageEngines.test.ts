// Runs the StorageEngine acceptance suite against the in-memory engine, LMDB on real disk, and the
// write-ahead log over LMDB (with small segments and memtables, so checkpoints run during the suite).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LmdbEngine } from '../../services/storage/LmdbEngine';
import { LoggedEngine } from '../../services/storage/LoggedEngine';
import { MemoryEngine } from '../../services/storage/MemoryEngine';
import { storageEngineContract } from '../contracts/storageEngine.contract';

storageEngineContract('MemoryEngine', async () => {
  const engine = new MemoryEngine();
  return { engine, reopen: async () => engine.snapshot(), cleanup: () => engine.close() };
});

storageEngineContract('LmdbEngine', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-lmdb-'));
  const engine = LmdbEngine.open(dir);
  return {
    engine,
    reopen: async () => {
      await engine.close();
      return LmdbEngine.open(dir);
    },
    cleanup: async () => {
      await engine.close().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

storageEngineContract('LoggedEngine over LmdbEngine', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-logged-'));
  const open = (): Promise<LoggedEngine> => LoggedEngine.open(path.join(dir, 'wal'), LmdbEngine.open(dir), { segmentBytes: 4096, memtableBytesMax: 1024 });
  let engine = await open();
  return {
    engine,
    reopen: async () => {
      await engine.close();
      engine = await open();
      return engine;
    },
    cleanup: async () => {
      await engine.close().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
