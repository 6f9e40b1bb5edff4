// A write load for chaos tests, run inside a node's network namespace with
//   node --import tsx test/chaos/chaosClient.ts --target <ip:port> --client <n> [--loops 8] [--docs 20]
// It writes to its local node through the generated gRPC stubs with LOCAL acks: `loops`
// concurrent loops, each write one Apply transaction on a document chaos/d<k> with
//   m.w<client>-<seq> = <seq>   (a unique key: an acked write must survive everywhere)
//   h.last = "w<client>-<seq>"  (the same key from every client: concurrent sets must converge)
//   n += 1                      (a counter: n must equal the number of m entries, exactly)
// Every call has a deadline; a failed or timed-out call is "not acked" (it may or may not land).
//
// stdout, one JSON object per line:
//   {"ev":"ready","client":n}                     after the first acked write
//   {"ev":"acked","w":[[doc,seq],...]}            acked writes, batched every 100 ms
//   {"ev":"stopped","acked":n,"failed":n,"errors":{code:n}}   after `stop` (no call in flight)
//   {"ev":"dump","docs":{"chaos/d0":"<json>"|null,...},"error"?:...}   after `dump`
// stdin commands, one per line: `stop` (finish in-flight calls, stop writing, print totals),
// `dump` (read every chaos document from the local node and print it).
//
// --phantom <n>: also report n writes that were never sent (only to prove the checker fails).
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { createInterface } from 'node:readline';
import { AckLevel, DocumentServiceClient } from '../../proto/gen/concord/v1/documents';
import { callUnary } from '../../services/node/callUnary';
import { ops } from '../../clients/client/ops';

interface Args {
  target: string;
  client: number;
  loops: number;
  docs: number;
  writeDeadlineMs: number;
  phantom: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string, fallback?: string): string => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? argv[i + 1] : fallback;
    if (v === undefined) throw new Error(`--${name} is required`);
    return v;
  };
  return {
    target: get('target'),
    client: Number(get('client')),
    loops: Number(get('loops', '8')),
    docs: Number(get('docs', '20')),
    writeDeadlineMs: Number(get('write-deadline-ms', '2000')),
    phantom: Number(get('phantom', '0')),
  };
}

const docName = (k: number): string => `chaos/d${k}`;
const writeKey = (client: number, seq: number): string => `w${client}-${seq}`;

const set = ops.set;
const add = ops.counterAdd;

function print(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const docs = new DocumentServiceClient(args.target, credentials.createInsecure(), {
    // Reconnect quickly after the node restarts (the default backoff grows to minutes).
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 500,
    'grpc.max_receive_message_length': 64 << 20,
  });
  let seq = 0;
  let stopping = false;
  let acked = 0;
  let failed = 0;
  let ready = false;
  const errors: Record<string, number> = {};
  let pending: [number, number][] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    print({ ev: 'acked', w: pending });
    pending = [];
  };
  const flushTimer = setInterval(flush, 100);

  const loop = async (): Promise<void> => {
    while (!stopping) {
      const s = ++seq;
      const d = s % args.docs;
      const key = writeKey(args.client, s);
      try {
        await callUnary(docs.apply.bind(docs), {
          documentId: docName(d),
          operations: [set(['m', key], s), set(['h', 'last'], key), add(['n'], 1)],
          ack: AckLevel.ACK_LEVEL_LOCAL,
        }, args.writeDeadlineMs);
        acked++;
        pending.push([d, s]);
        if (!ready) {
          ready = true;
          print({ ev: 'ready', client: args.client });
        }
      } catch (err) {
        failed++;
        const code = String((err as ServiceError).code ?? 'other');
        errors[code] = (errors[code] ?? 0) + 1;
        // A node that is down refuses at once: do not spin.
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const loops = Array.from({ length: args.loops }, loop);

  const dump = async (): Promise<void> => {
    const out: Record<string, string | null> = {};
    try {
      await Promise.all(Array.from({ length: args.docs }, async (_, d) => {
        try {
          const res = await callUnary(docs.get.bind(docs), {
            documentId: docName(d), minVersion: new Uint8Array(), stateVector: new Uint8Array(), includeUpdate: false,
          }, 3000);
          out[docName(d)] = res.json;
        } catch (err) {
          if ((err as ServiceError).code === 5) out[docName(d)] = null; // NOT_FOUND: never written here
          else throw err;
        }
      }));
      print({ ev: 'dump', docs: out });
    } catch (err) {
      print({ ev: 'dump', docs: {}, error: String((err as Error).message) });
    }
  };

  createInterface({ input: process.stdin }).on('line', (line) => {
    const cmd = line.trim();
    if (cmd === 'stop' && !stopping) {
      stopping = true;
      void Promise.all(loops).then(() => {
        for (let i = 0; i < args.phantom; i++) pending.push([i % args.docs, ++seq]); // never sent
        flush();
        clearInterval(flushTimer);
        print({ ev: 'stopped', acked: acked + args.phantom, failed, errors });
      });
    } else if (cmd === 'dump') void dump();
  });
  // The test owns us: when it goes away (stdin closes), so do we.
  process.stdin.on('end', () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`chaosClient: ${String(err)}\n`);
  process.exit(1);
});
