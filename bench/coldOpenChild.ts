/**
 * One cold start, run as a fresh process by coldOpen.ts:
 *   node bench/coldOpenChild.ts <dataDir> <query> [await|background]
 * The last argument is Core.open's `documents` option: 'await' (the default, as the app opens) or
 * 'background' (as read-only CLI commands such as `lva search` open).
 * Times are ms since this process started (performance.now() counts from the process's time origin).
 * Prints one JSON line.
 */
const importStart = performance.now();
const { Core } = await import('../desktop/src/core/Core.ts');
const imported = performance.now();

const [dataDir, query] = [process.argv[2], process.argv[3]];
const documents = process.argv[4] === 'background' ? 'background' : 'await';
if (!dataDir || !query) {
  process.stderr.write('usage: node bench/coldOpenChild.ts <dataDir> <query>\n');
  process.exit(2);
}

let modelReady: number | undefined;
const core = await Core.open({ dataDir, background: false, deviceName: 'bench', documents });
const opened = performance.now();
core.on((e) => {
  if (e.type === 'progress' && e.task === 'model' && e.message.endsWith('ready')) modelReady ??= performance.now();
});
// What search-as-you-type shows first: the index answers by keyword while the model is still loading.
const early = await core.search({ query, limit: 10 });
const firstAnyResult = performance.now();
const result = await core.search({ query, limit: 10 }, { waitForModel: true });
const firstResult = performance.now();
const cpu = process.cpuUsage();
// The model load starts inside open; if it finished before the listener was added, it was ready by `opened`.
modelReady ??= opened;
await core.close();
const closed = performance.now();

process.stdout.write(
  `${JSON.stringify({
    processStartToScript: importStart,
    importCoreMs: imported - importStart,
    openMs: opened,
    openCallMs: opened - imported,
    modelReadyMs: modelReady,
    firstResultMs: firstResult,
    firstAnyResultMs: firstAnyResult,
    firstAnyMode: early.mode,
    firstAnyHits: early.hits.length,
    closeMs: closed - firstResult,
    cpuMsToFirstResult: (cpu.user + cpu.system) / 1000,
    mode: result.mode,
    hits: result.hits.length,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
