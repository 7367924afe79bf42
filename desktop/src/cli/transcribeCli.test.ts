import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLva } from '../../test/lvaProcess.ts';

// Real weights and audio live beside the repository, never in it.
const SHARED = path.resolve(import.meta.dirname, '../../../../shared');
const MODEL_DIR = path.join(SHARED, 'models');
const JFK = path.join(SHARED, 'audio', 'jfk.wav');
const SENTENCE = 'And so my fellow Americans ask not what your country can do for you, ask what you can do for your country.';

describe('lva capture --file of speech', () => {
  let dir: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-transcribe-cli-'));
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('returns once the local transcript is stored and searchable', async () => {
    const env = { LVA_MODEL_DIR: MODEL_DIR, LVA_TRANSCRIBE: 'local' };
    const captured = await runLva(dir, ['capture', '--file', JFK, '--json'], env);
    expect(captured.status).toBe(0);
    const { id } = JSON.parse(captured.stdout) as { id: string };

    const shown = JSON.parse((await runLva(dir, ['show', id, '--json'], env)).stdout) as { text: string; status: { transcribe: { state: string } } };
    expect(shown.text).toBe(SENTENCE);
    expect(shown.status.transcribe.state).toBe('done');

    const found = JSON.parse((await runLva(dir, ['search', 'fellow Americans', '--json'], env)).stdout) as { hits: { id: string }[] };
    expect(found.hits[0]?.id).toBe(id);
  });
});
