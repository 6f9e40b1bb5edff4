import { parseDocumentJson, hex, toJsonLine } from './printable';
import { withClient, type ClientCliOptions, type Io } from './clientOptions';

// `concord watch <doc>`: one line per change until Ctrl-C (or SIGTERM), which ends the watch
// cleanly with exit code 0. Human lines show origin, version and the document; --json prints
// one JSON object per line.

export async function watchCommand(io: Io, documentId: string, options: ClientCliOptions & { fromVersion?: Buffer }): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await withClient(options, async (client) => {
      const events = client.watch(documentId, { fromVersion: options.fromVersion, includeJson: true, signal: stop.signal });
      for await (const event of events) {
        const document = parseDocumentJson(event.json);
        if (options.json) {
          io.out(toJsonLine({ documentId, origin: event.origin, version: event.version, updateBytes: event.update.length, document }));
        } else {
          io.out(`[${event.origin || 'update'}] version=${hex(event.version)}  ${JSON.stringify(document)}`);
        }
      }
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
