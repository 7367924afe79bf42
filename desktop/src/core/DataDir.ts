import os from 'node:os';
import path from 'node:path';

/** Where everything of one device lives. Only `docs.sqlite`, `blobs/` and `device.json` are truth; the rest is derived. */
export interface DataDirLayout {
  readonly root: string;
  readonly device: string;
  readonly lock: string;
  readonly docs: string;
  readonly blobs: string;
  readonly jobs: string;
  readonly index: string;
  /** The concept graph (a directory): derived from the documents, like the index. */
  readonly graph: string;
  readonly models: string;
  /** Tokens and cost of every model call, for budgets and stats; per device, never synced. */
  readonly usage: string;
}

export function dataDirLayout(root: string): DataDirLayout {
  const abs = path.resolve(root);
  return {
    root: abs,
    device: path.join(abs, 'device.json'),
    lock: path.join(abs, 'lock'),
    docs: path.join(abs, 'docs.sqlite'),
    blobs: path.join(abs, 'blobs'),
    jobs: path.join(abs, 'jobs.sqlite'),
    index: path.join(abs, 'index.sqlite'),
    graph: path.join(abs, 'graph'),
    models: path.join(abs, 'models'),
    usage: path.join(abs, 'usage.sqlite'),
  };
}

/** The OS's per-user app-data directory, the same place Electron's `app.getPath('userData')` points to. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.LVA_DATA_DIR) return env.LVA_DATA_DIR;
  const home = os.homedir();
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Learning Voice Agent');
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Learning Voice Agent');
  return path.join(env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'learning-voice-agent');
}
