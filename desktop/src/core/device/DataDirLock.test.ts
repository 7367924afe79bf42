import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLock } from './DataDirLock.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function lockFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-lock-'));
  dirs.push(dir);
  return path.join(dir, 'lock');
}

describe('DataDirLock', () => {
  it('lets one process own a data directory and tells the second who has it', () => {
    const file = lockFile();
    // A live process other than this one: the parent of the test runner.
    fs.writeFileSync(file, String(process.ppid));
    const lock = new DataDirLock(file);
    let error: unknown;
    try {
      lock.acquire();
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'DATA_DIR_LOCKED' });
    expect((error as Error).message).toContain(`pid ${process.ppid}`);
    expect(fs.readFileSync(file, 'utf8')).toBe(String(process.ppid));
  });

  it('takes over a lock left by a killed process', () => {
    const file = lockFile();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    fs.writeFileSync(file, dead);
    const lock = new DataDirLock(file);
    lock.acquire();
    expect(fs.readFileSync(file, 'utf8')).toBe(String(process.pid));
    lock.release();
    expect(fs.existsSync(file)).toBe(false);
  });
});
