#!/usr/bin/env node
// Generates TypeScript stubs from proto/ with buf + ts-proto (no system packages needed).
// With --check it generates into a temporary folder and fails if proto/gen differs, so the
// checked-in generated code always matches the protos and is never edited by hand.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const protoDir = path.join(root, 'proto');
const genDir = path.join(protoDir, 'gen');
const check = process.argv.includes('--check');
const buf = path.join(root, 'node_modules', '.bin', 'buf');

function listFiles(dir, base = dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? listFiles(full, base) : [path.relative(base, full)];
  }).sort();
}

function generate(outDir) {
  const template = fs.readFileSync(path.join(protoDir, 'buf.gen.yaml'), 'utf8')
    .replace('out: gen', `out: ${JSON.stringify(outDir)}`)
    .replace('local: ../node_modules/.bin/protoc-gen-ts_proto',
      `local: ${JSON.stringify(path.join(root, 'node_modules', '.bin', 'protoc-gen-ts_proto'))}`);
  const tmpl = path.join(os.tmpdir(), `concord-buf-gen-${process.pid}.yaml`);
  fs.writeFileSync(tmpl, template);
  try {
    execFileSync(buf, ['generate', '--template', tmpl], { cwd: protoDir, stdio: 'inherit' });
  } finally {
    fs.rmSync(tmpl, { force: true });
  }
}

if (!check) {
  fs.rmSync(genDir, { recursive: true, force: true });
  generate(genDir);
  console.log(`generated ${listFiles(genDir).length} files in proto/gen`);
  process.exit(0);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-proto-check-'));
try {
  generate(tmp);
  const want = listFiles(tmp);
  const have = listFiles(genDir);
  const problems = [];
  for (const f of new Set([...want, ...have])) {
    if (!want.includes(f)) problems.push(`extra file not produced by the protos: proto/gen/${f}`);
    else if (!have.includes(f)) problems.push(`missing generated file: proto/gen/${f}`);
    else if (!fs.readFileSync(path.join(tmp, f)).equals(fs.readFileSync(path.join(genDir, f)))) {
      problems.push(`proto/gen/${f} differs from what the protos generate`);
    }
  }
  if (problems.length > 0) {
    console.error(problems.join('\n'));
    console.error('proto:check failed: run `npm run proto:gen` and never edit proto/gen by hand.');
    process.exit(1);
  }
  console.log(`proto:check ok (${want.length} generated files match the protos)`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
