import fs from 'node:fs';
import path from 'node:path';

/** Writes a file so that after return it is complete on disk, or absent: temp file, fsync, rename, fsync dir. */
export function writeFileDurable(file: string, data: string | Uint8Array, options: { mode?: number } = {}): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  // The mode is set at creation, so a secret is never readable by others, not even for a moment.
  const fd = fs.openSync(tmp, 'w', options.mode ?? 0o666);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/** A rename is durable only once its directory entry is fsynced. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
