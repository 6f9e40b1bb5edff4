// Lint: typescript-eslint's recommended rules plus the package-boundary rule from the
// architecture: services/core never imports grpc, node:* or OpenTelemetry.
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['node_modules/**', 'proto/gen/**', 'clients/mobile/dist/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
    languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly' } },
  },
  {
    files: ['services/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'net', 'os', 'path', 'crypto', 'child_process'], message: 'services/core is pure: inject I/O.' },
          { group: ['@grpc/*', '@opentelemetry/*', 'lmdb'], message: 'services/core is pure: no transport, telemetry or storage.' },
          { group: ['**/storage/**', '**/node/**', '**/rpc/**'], message: 'Imports flow core <- storage <- node/rpc.' },
        ],
      }],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'performance'],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now' }, { object: 'Math', property: 'random' }],
    },
  },
);
