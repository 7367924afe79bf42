import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { dataDirLayout } from '../DataDir.ts';
import { CoreError } from '../errors.ts';
import { writeFileDurable } from '../fsync.ts';

/**
 * Where this device stands with the relay, in `<dataDir>/sync-state.json`: the pull cursor, and per
 * document the heads the relay is known to have. Losing it costs bandwidth only: pushes and pulls
 * start over and Automerge ignores changes it already has.
 */
const StateFile = z.strictObject({
  version: z.literal(1),
  cursor: z.number().int().min(0),
  /** docId → Automerge heads (hex) already acked by the relay or received from it. */
  known: z.record(z.string(), z.array(z.string())),
});
export type SyncStateData = z.infer<typeof StateFile>;

export class SyncState {
  readonly #file: string;
  #data: SyncStateData;

  private constructor(file: string, data: SyncStateData) {
    this.#file = file;
    this.#data = data;
  }

  static open(dataDir: string): SyncState {
    const file = path.join(dataDirLayout(dataDir).root, 'sync-state.json');
    if (!fs.existsSync(file)) return new SyncState(file, { version: 1, cursor: 0, known: {} });
    try {
      return new SyncState(file, StateFile.parse(JSON.parse(fs.readFileSync(file, 'utf8'))));
    } catch (err) {
      throw new CoreError('DATA_DIR_INVALID', `${file} is damaged; delete it to sync from the start`, { cause: err });
    }
  }

  get cursor(): number {
    return this.#data.cursor;
  }

  knownHeads(docId: string): string[] {
    return this.#data.known[docId] ?? [];
  }

  setCursor(cursor: number): void {
    if (cursor <= this.#data.cursor) return;
    this.#data.cursor = cursor;
    this.#save();
  }

  setKnownHeads(docId: string, heads: readonly string[]): void {
    this.#data.known[docId] = [...heads];
    this.#save();
  }

  // Every update is durable before the next network step, so a crash never skips a chunk.
  #save(): void {
    writeFileDurable(this.#file, JSON.stringify(this.#data) + '\n');
  }
}
