#!/usr/bin/env node
// The `concord` bin. The CLI is TypeScript run directly: tsx's CommonJS hook is registered
// first so that requiring main.ts (and everything it imports) compiles on the fly. Kept in
// plain JS so it runs as `npx concord`, `npm start` and `node clients/cli/concord.js` alike.
'use strict';

require('tsx/cjs/api').register();

require('./main.ts')
  .runCli(process.argv)
  .then((exitCode) => {
    process.exitCode = exitCode;
  });
