#!/usr/bin/env node
// Entry point: runs the compiled CLI when built (npm run build), otherwise the TypeScript source through tsx.
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { distState } from './dist-fresh.js';

// Supported Node.js: 22.22+ and 24+ (package.json engines; @platformatic/kafka 2.x needs 22.22).
// Checked before anything else is loaded, so an older Node gets this line, not a failure deep inside.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 22)) {
  process.stderr.write(
    `cdc-fanout needs Node.js 22.22 or newer (24 LTS recommended); this is Node.js ${process.versions.node} (${process.execPath}).\n` +
      `Install Node.js 24 (https://nodejs.org, or the image node:24-slim) and run cdc-fanout with it. In this repository, ` +
      `\`bash scripts/node.sh\` installs a pinned Node 24 into .tools/ and prints its path.\n`,
  );
  process.exit(1);
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = join(root, 'src');

// dist/ only when it is at least as new as every source file (./dist-fresh.js). The image builds
// dist/ after copying src/, so it runs dist/.
const { built, exists, fresh: distFresh } = distState(root);
if (distFresh) {
  await import(pathToFileURL(built).href);
} else {
  if (exists) {
    process.stderr.write('cdc-fanout: dist/ is older than src/ — running the TypeScript sources (run `npm run build` to refresh dist/)\n');
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(sources, 'cli', 'main.ts')).href);
}
