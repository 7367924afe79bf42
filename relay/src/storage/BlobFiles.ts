import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { assertBase64UrlId } from './ids.ts';

/**
 * Encrypted blobs as files under `<root>/<accountId>/<blobId>`, written so that a crash leaves
 * either the whole blob or no file under its name: temp file, fsync, rename, fsync the directory.
 */
export class BlobFiles {
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  /** The blob's final path; both ids are checked because both become path segments. */
  pathOf(accountId: string, blobId: string): string {
    assertBase64UrlId(accountId, 'accountId');
    assertBase64UrlId(blobId, 'blobId');
    return join(this.#root, accountId, blobId);
  }

  /** Writes the bytes durably to a temp file beside the final one and returns its path. */
  async stage(accountId: string, bytes: Uint8Array): Promise<string> {
    assertBase64UrlId(accountId, 'accountId');
    const dir = join(this.#root, accountId);
    await mkdir(dir, { recursive: true });
    // The leading '.' cannot occur in a base64url blob id, so temp names never shadow a blob.
    const tempPath = join(dir, `.tmp-${randomBytes(12).toString('hex')}`);
    const handle = await open(tempPath, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(tempPath, { force: true });
      throw error;
    }
    await handle.close();
    return tempPath;
  }

  /**
   * Moves a staged file to its final name. Synchronous so that it can run inside the SQLite
   * transaction that records the blob: the row is committed only after the file is in place.
   */
  commit(tempPath: string, accountId: string, blobId: string): void {
    const finalPath = this.pathOf(accountId, blobId);
    renameSync(tempPath, finalPath);
    // Without this the rename itself may not survive a power loss.
    const dirFd = openSync(join(this.#root, accountId), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  /** Removes a staged file that will not be committed. */
  async discard(tempPath: string): Promise<void> {
    await rm(tempPath, { force: true });
  }

  /** The blob's bytes; a missing file is an error because the caller has already seen its row. */
  async read(accountId: string, blobId: string): Promise<Uint8Array> {
    const buffer = await readFile(this.pathOf(accountId, blobId));
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
}
