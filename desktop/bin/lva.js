#!/usr/bin/env node
// Plain JS so that an old Node gets a readable message instead of a syntax error from the TypeScript sources.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`lva: needs Node 22 or later (found ${process.version}); run it through \`npm run lva --\` or \`npx lva\` after \`npm ci\`.`);
  process.exit(1);
}
await import('../src/cli/main.ts');
