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
  /** docId → chunks pushed or pulled since this device last sent a snapshot of it. */
  sinceSnapshot: z.record(z.string(), z.number().int().min(0)).optional(),
  /** docId → bytes of those chunks. */
  bytesSinceSnapshot: z.record(z.string(), z.number().int().min(0)).optional(),
  /** docId → the highest relay seq of its chunks this device has pushed or received: what a snapshot may cover. */
  lastSeq: z.record(z.string(), z.number().int().min(0)).optional(),
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

  /**
   * Sets heads for many documents with one durable write: a first sync applies thousands of
   * chunks, and an fsync per chunk would dominate it.
   */
  setKnownHeadsMany(entries: Iterable<readonly [string, readonly string[]]>): void {
    let any = false;
    for (const [docId, heads] of entries) {
      this.#data.known[docId] = [...heads];
      any = true;
    }
    if (any) this.#save();
  }

  chunksSinceSnapshot(docId: string): number {
    return this.#data.sinceSnapshot?.[docId] ?? 0;
  }

  bytesSinceSnapshot(docId: string): number {
    return this.#data.bytesSinceSnapshot?.[docId] ?? 0;
  }

  lastSeq(docId: string): number {
    return this.#data.lastSeq?.[docId] ?? 0;
  }

  /**
   * A chunk of the document at `seq` went up or came down. Kept in memory and persisted with the
   * next heads or cursor write: losing it only delays a snapshot.
   */
  countChunk(docId: string, seq: number, bytes: number): void {
    const since = (this.#data.sinceSnapshot ??= {});
    since[docId] = (since[docId] ?? 0) + 1;
    const sinceBytes = (this.#data.bytesSinceSnapshot ??= {});
    sinceBytes[docId] = (sinceBytes[docId] ?? 0) + bytes;
    const last = (this.#data.lastSeq ??= {});
    last[docId] = Math.max(last[docId] ?? 0, seq);
  }

  /** A snapshot of the document, covering `seq`, was sent or received. */
  resetChunkCount(docId: string, seq: number): void {
    if (this.#data.sinceSnapshot) delete this.#data.sinceSnapshot[docId];
    if (this.#data.bytesSinceSnapshot) delete this.#data.bytesSinceSnapshot[docId];
    const last = (this.#data.lastSeq ??= {});
    last[docId] = Math.max(last[docId] ?? 0, seq);
    this.#save();
  }

  // Every update is durable before the next network step, so a crash never skips a chunk.
  #save(): void {
    writeFileDurable(this.#file, JSON.stringify(this.#data) + '\n');
  }
}
