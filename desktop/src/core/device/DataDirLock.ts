import fs from 'node:fs';
import { CoreError } from '../errors.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One process at a time owns a data directory: two would each hold their own in-memory copy of the
 * documents and race on the job queue. A lock left by a killed process is taken over.
 */
export class DataDirLock {
  readonly #file: string;
  #held = false;

  constructor(file: string) {
    this.#file = file;
  }

  acquire(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = fs.openSync(this.#file, 'wx');
        fs.writeSync(fd, String(process.pid));
        fs.closeSync(fd);
        this.#held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number(fs.readFileSync(this.#file, 'utf8').trim());
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
          throw new CoreError('DATA_DIR_LOCKED', `the data directory is in use by another process (pid ${pid}); close it first`);
        }
        fs.rmSync(this.#file, { force: true });
      }
    }
    throw new CoreError('DATA_DIR_LOCKED', `could not lock the data directory (${this.#file})`);
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    fs.rmSync(this.#file, { force: true });
  }
}
