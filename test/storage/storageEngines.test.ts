// Runs the StorageEngine acceptance suite against the in-memory engine and LMDB on real disk.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LmdbEngine } from '../../services/storage/LmdbEngine';
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
