import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { blobId, deriveSubkeys, encodeFields, openFrame, sealFrame } from '@lva/shared';
import { dataDirLayout } from '../DataDir.ts';
import type { BlobStore } from '../blobs/BlobStore.ts';
import { CoreError } from '../errors.ts';
import { RelayApi } from './RelayApi.ts';
import { signerOf, type SyncKeys } from './SyncKeys.ts';

// Binding the account and the keyed id means the relay cannot serve one blob under another's name.
function blobAad(accountId: string, id: string): Uint8Array {
  return encodeFields('lva-blob-v1', accountId, id);
}

/**
 * Audio, images and PDFs travel apart from the documents: sealed with the account's blob key and
 * named by a keyed hash, so the relay learns neither the content nor its plain SHA-256. Each blob
 * goes up once (remembered in an append-only log) and comes down only when a device opens it.
 */
export class BlobSync {
  readonly #keys: SyncKeys;
  readonly #store: BlobStore;
  readonly #api: RelayApi;
  readonly #blobKey: Uint8Array;
  readonly #idKey: Uint8Array;
  readonly #logFile: string;
  #uploaded: Set<string> | undefined;
  /** Blobs stored since the last scan; a full scan happens once per BlobSync. */
  readonly #fresh = new Set<string>();
  #scanned = false;
  readonly #offPut: () => void;

  constructor(dataDir: string, keys: SyncKeys, store: BlobStore) {
    this.#keys = keys;
    this.#store = store;
    this.#api = new RelayApi(keys.relayUrl);
    const subkeys = deriveSubkeys(keys.accountKey);
    this.#blobKey = subkeys.blobKey;
    this.#idKey = subkeys.blobIdKey;
    this.#logFile = path.join(dataDirLayout(dataDir).root, 'blob-uploads.log');
    this.#offPut = store.onPut((sha) => this.#fresh.add(sha));
  }

  close(): void {
    this.#offPut();
  }

  relayIdOf(sha256: string): string {
    return blobId(this.#idKey, sha256);
  }

  /** Local blobs the relay has not acknowledged. */
  pending(): string[] {
    const uploaded = this.#loadUploaded();
    const candidates = this.#scanned ? [...this.#fresh] : [...this.#store.list()];
    this.#scanned = true;
    this.#fresh.clear();
    return candidates.filter((sha) => !uploaded.has(sha));
  }

  /** Uploads every pending blob; resolves to how many went up. A failure leaves the rest pending. */
  async uploadPending(): Promise<number> {
    const pending = this.pending();
    let done = 0;
    try {
      for (const sha of pending) {
        await this.upload(sha);
        done += 1;
      }
    } catch (err) {
      // Retried from a full scan next time, since `fresh` was already drained.
      this.#scanned = false;
      throw err;
    }
    return done;
  }

  async upload(sha256: string): Promise<void> {
    const id = this.relayIdOf(sha256);
    const sealed = sealFrame(this.#blobKey, this.#store.get(sha256), blobAad(this.#keys.accountId, id));
    await this.#api.putBlob(signerOf(this.#keys), id, sealed);
    this.#markUploaded(sha256);
  }

  /**
   * Brings a blob this device lacks from the relay: opened, checked against the SHA-256 the capture
   * names, and only then stored. Anything else is an error and nothing is written.
   */
  async fetch(sha256: string): Promise<Buffer> {
    if (this.#store.has(sha256)) return this.#store.get(sha256);
    const id = this.relayIdOf(sha256);
    const sealed = await this.#api.getBlob(signerOf(this.#keys), id);
    if (!sealed) throw new CoreError('NOT_FOUND', `blob ${sha256} is not on this device and not yet on the relay; sync the device that captured it`);
    let bytes: Uint8Array;
    try {
      bytes = openFrame(this.#blobKey, sealed, blobAad(this.#keys.accountId, id));
    } catch (err) {
      throw new CoreError('SYNC_FAILED', `the relay's copy of blob ${sha256} does not decrypt: it was damaged or tampered with`, { cause: err });
    }
    const actual = crypto.createHash('sha256').update(bytes).digest('hex');
    if (actual !== sha256) throw new CoreError('SYNC_FAILED', `the relay's copy of blob ${sha256} has other content (${actual})`);
    this.#store.put(bytes);
    // It came from the relay, so it never needs to go up from here.
    this.#markUploaded(sha256);
    return Buffer.from(bytes);
  }

  #loadUploaded(): Set<string> {
    if (!this.#uploaded) {
      const text = fs.existsSync(this.#logFile) ? fs.readFileSync(this.#logFile, 'utf8') : '';
      // A torn last line (crash mid-append) fails the pattern and is simply uploaded again.
      this.#uploaded = new Set(text.split('\n').filter((line) => /^[0-9a-f]{64}$/.test(line)));
    }
    return this.#uploaded;
  }

  #markUploaded(sha256: string): void {
    const uploaded = this.#loadUploaded();
    if (uploaded.has(sha256)) return;
    fs.appendFileSync(this.#logFile, `${sha256}\n`);
    uploaded.add(sha256);
  }
}
