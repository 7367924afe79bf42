import path from 'node:path';
import { BudgetGuard, monthlyBudgetFromEnv } from '../../core/agents/cost/Budget.ts';
import { providerSettingsFromEnv } from '../../core/agents/ProviderSettings.ts';
import { Core, type CoreEvent } from '../../core/Core.ts';
import { defaultDataDir } from '../../core/DataDir.ts';
import { HeadlessServer } from '../../server/HeadlessServer.ts';
import { RpcServer } from '../../server/RpcServer.ts';
import { UsageError } from '../CliError.ts';
import { parse } from '../context.ts';
import { optionalBudget } from './askCommand.ts';
import { untilSignalled } from '../signals.ts';

/** Where `npm run build:ui` writes the renderer, from this file's place in the sources. */
export const DEFAULT_UI_DIR = path.resolve(import.meta.dirname, '../../../dist/renderer');

/**
 * `lva serve [--port N] [--ui DIR]`: the core for a browser, until SIGINT or SIGTERM. Unlike the other
 * commands it keeps the core open, so jobs run in the background as they do in the app.
 */
export async function serveCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { port: { type: 'string' }, ui: { type: 'string' } });
  if (positionals.length > 0) throw new UsageError('usage: lva serve [--port N] [--ui DIR]');
  const port = parsePort(values.port);
  const settings = providerSettingsFromEnv();
  const core = await Core.open({
    dataDir: values['data-dir'] ?? defaultDataDir(),
    background: true,
    embedder: values.embedder ?? process.env.LVA_EMBEDDER ?? 'use',
    allowRemoteModels: !values.offline,
    agents: {
      settings,
      ...(process.env.LVA_MODEL_DIR ? { modelDir: process.env.LVA_MODEL_DIR } : {}),
      preferLocal: process.env.LVA_TRANSCRIBE === 'local',
    },
  });
  const off = core.on(logEvent);
  let rpc: RpcServer | undefined;
  let server: HeadlessServer | undefined;
  try {
    rpc = new RpcServer(core, { settings, budget: new BudgetGuard(core.usage, optionalBudget(monthlyBudgetFromEnv())) });
    server = await HeadlessServer.start({ rpc, port, uiDir: values.ui ? path.resolve(values.ui) : DEFAULT_UI_DIR });
    process.stdout.write(`lva: serving on ${server.url}\n`);
    await untilSignalled();
    process.stderr.write('lva: shutting down\n');
  } finally {
    await server?.close();
    rpc?.close();
    off();
    await core.close();
  }
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535 (got "${raw}")`);
  return port;
}


/** Progress goes to the browser; what a person running the server should see goes to stderr. */
function logEvent(e: CoreEvent): void {
  if (e.type === 'notice') process.stderr.write(`lva: ${e.message}\n`);
  else if (e.type === 'job' && e.event.outcome === 'failed') process.stderr.write(`lva: job ${e.event.job.kind} failed: ${e.event.error}\n`);
}
