import { CoreError } from '../core/errors.ts';
import { UsageError } from './CliError.ts';
import { askCommand, conversationsCommand, feedbackCommand } from './commands/askCommand.ts';
import { captureCommand, listCommand, showCommand } from './commands/captureCommands.ts';
import { conceptsCommand, graphCommand } from './commands/graphCommands.ts';
import { insightsCommand } from './commands/insightsCommand.ts';
import { jobsCommand } from './commands/jobsCommands.ts';
import { reindexCommand, statsCommand } from './commands/maintenanceCommands.ts';
import { searchCommand } from './commands/searchCommand.ts';
import { serveCommand } from './commands/serveCommand.ts';
import { devicesCommand, pairCommand, recoverCommand, recoveryPhraseCommand } from './commands/pairCommands.ts';
import { initCommand, syncCommand } from './commands/syncCommands.ts';
import { exportCommand, importCommand } from './commands/transferCommands.ts';

const HELP = `lva — Learning Voice Agent from the command line

usage: lva COMMAND [options]

  capture "text" [--title T] [--tag T]... [--source S]   store a capture
  capture --file x.wav|x.webm|x.png|x.pdf|x.md           store a file as a capture; waits for its transcript,
                                                          description or parts and concepts, and says what still waits
  search "query" [--limit N] [--source S] [--tag T] [--from DATE] [--to DATE]
  ask "question" | --audio F.wav [--conversation ID]     an answer from your captures, with sources (needs ANTHROPIC_API_KEY);
      [--capture-only]                                    --capture-only stores what you said in the conversation, no reply
  feedback CONV TURN up|down [--correction TEXT]          rate a reply: liked answers guide later ones
  conversations [ID]                                      past conversations, or one in full
  concepts [--by week|month] [--from DATE] [--to DATE]    the concepts you captured most
  graph neighbours "concept" [--depth 2]                  concepts linked to one
  graph path "A" "B" | graph captures "concept"           how two concepts connect; captures mentioning one
  insights [--now | --week YYYY-Www]                      weekly digests with their sources; --now writes this
                                                          week's, --week a given week's (needs ANTHROPIC_API_KEY)
  jobs [--state S] [--kind K] [--limit N]                 the job queue: what waits (and for what), what failed and why
  jobs run [--kind K]                                     run every job now, waiting ones too, then say what is left
  jobs retry ID | jobs cancel ID                          run a failed job again; stop a pending or running one
  show ID [--save DIR]                                    one capture in full; --save writes its files
  list [--limit N] [--source S] [--tag T]                 newest captures
  import FILE.jsonl | DIR                                 JSONL lines or Markdown files
  export [--format jsonl|markdown] [--out PATH]           everything, re-importable
  reindex                                                 rebuild the search index
  stats                                                   counts, sizes, jobs
  init --relay URL                                        turn sync on: new account on the relay
  sync --once | --watch                                   push and pull once, or stay connected
  pair invite [--ttl SECONDS]                             one-time code (and QR) to add a device
  pair join CODE [--relay URL] [--name NAME]              add this (new) data dir to an account
  devices | devices rename ID NAME | devices revoke ID    the account's devices
  recover --relay URL [--name NAME] < phrase              restore the account from its recovery phrase
  recovery-phrase                                         show the 24 words again
  serve [--port N] [--ui DIR]                             the app in a browser: the core and the UI on 127.0.0.1, until Ctrl-C

every command takes:
  --data-dir DIR   where data lives (default: the OS app-data directory, or $LVA_DATA_DIR)
  --json           machine-readable output on stdout
  --embedder NAME  use (default) or hf:<org>/<model>
  --offline        never download models
  --no-wait        (capture, import) return once stored, before indexing
`;

type Command = (args: string[]) => Promise<number | void>;

const COMMANDS: Record<string, Command> = {
  capture: captureCommand,
  search: searchCommand,
  ask: askCommand,
  feedback: feedbackCommand,
  conversations: conversationsCommand,
  concepts: conceptsCommand,
  graph: graphCommand,
  show: showCommand,
  list: listCommand,
  import: importCommand,
  export: exportCommand,
  reindex: reindexCommand,
  stats: statsCommand,
  jobs: jobsCommand,
  insights: insightsCommand,
  init: initCommand,
  sync: syncCommand,
  pair: pairCommand,
  devices: devicesCommand,
  recover: recoverCommand,
  'recovery-phrase': recoveryPhraseCommand,
  serve: serveCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(HELP);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"; run lva --help`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  return (await command(rest)) ?? 0;
}

/** Exit codes: 0 ok, 1 the command failed (bad data, not found), 2 the command was called wrongly. */
function report(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`lva: ${err.message}\n`);
    return 2;
  }
  if (err instanceof CoreError) {
    process.stderr.write(`lva: ${err.message}\n`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`lva: unexpected error: ${message.split('\n')[0]}${process.env.LVA_DEBUG ? `\n${(err as Error).stack}` : ' (set LVA_DEBUG=1 for details)'}\n`);
  return 1;
}

process.exitCode = await main(process.argv.slice(2)).catch(report);
