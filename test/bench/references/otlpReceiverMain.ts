import * as fs from 'node:fs';
import { OtlpReceiver } from '../../telemetry/OtlpReceiver';
import type { ReceiverStatus } from './OtlpReceiverProcess';

// Entry of the tracing scenario's OTLP/gRPC receiver, run as a process of its own
// (OtlpReceiverProcess): in the load generator's process, receiving and keeping every span
// the traced cluster exports was charged to the load generator's CPU (0.29 to 0.30 ms per
// traced write against 0.19 untraced). As a collector would, it runs beside the system under
// test. It writes what it received to the status file named by its
// argument (rewritten as exports arrive, and once more when it is asked to stop).

const statusFile = process.argv[2];
if (statusFile === undefined) throw new Error('usage: otlpReceiverMain <status file>');

async function main(file: string): Promise<void> {
  const receiver = await OtlpReceiver.start(0);
  const services = new Set<string>();
  let counted = 0;
  let written = -1;
  const write = (): void => {
    if (receiver.exports === written) return;
    for (; counted < receiver.spans.length; counted++) {
      const r = receiver.spans[counted]?.resource ?? {};
      services.add(String(r['service.instance.id'] ?? r['service.name'] ?? ''));
    }
    const status: ReceiverStatus = { port: receiver.port, spans: receiver.spans.length, exports: receiver.exports, services: [...services] };
    // Renamed into place: a reader never sees half a file.
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(status));
    fs.renameSync(`${file}.tmp`, file);
    written = receiver.exports;
  };
  write();
  const timer = setInterval(write, 100);
  process.once('SIGTERM', () => {
    clearInterval(timer);
    write();
    void receiver.stop().finally(() => process.exit(0));
  });
}

main(statusFile).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
