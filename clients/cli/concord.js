#!/usr/bin/env node
// The `concord` bin. The CLI is TypeScript run directly: tsx's CommonJS hook is registered
// first so that requiring main.ts (and everything it imports) compiles on the fly. Kept in
// plain JS so it runs as `npx concord`, `npm start` and `node clients/cli/concord.js` alike.
'use strict';

require('tsx/cjs/api').register();
require('../../services/node/quietIpServerNameWarning.ts').quietIpServerNameWarning();

// Tracing (service concord-cli) starts before main.ts loads gRPC, and is flushed before exit. It
// is off unless the OTEL_* variables configure it (see services/telemetry/telemetryConfig.ts).
const { startTelemetry } = require('../../services/telemetry/startTelemetry.ts');

startTelemetry({ serviceName: 'concord-cli' })
  .then((telemetry) => require('./main.ts')
    .runCli(process.argv)
    .then(async (exitCode) => {
      await telemetry.shutdown();
      process.exitCode = exitCode;
    }))
  .catch((error) => {
    process.stderr.write(`concord: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
