import { contextBridge } from 'electron';
import { versionFromArgv } from '../main/windowOptions.ts';

/** What the renderer sees as `window.lva`. The typed RPC to the core joins it later. */
export interface LvaBridge {
  readonly version: string;
}

const bridge: LvaBridge = { version: versionFromArgv(process.argv) };

contextBridge.exposeInMainWorld('lva', bridge);
