import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const LVA = path.resolve(import.meta.dirname, '../../bin/lva.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function lva(dataDir: string, ...args: string[]): Run {
  const r = spawnSync(process.execPath, [LVA, ...args, '--data-dir', dataDir], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function json<T>(r: Run): T {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return JSON.parse(r.stdout) as T;
}

interface SearchOut {
  mode: string;
  hits: { id: string; score: number; title: string; snippet: string; createdAt: string; source: string; highlights: [number, number][] }[];
}

/** A valid PCM WAV of silence: enough for the capture path, which stores and does not yet transcribe. */
function wav(seconds: number): Buffer {
  const rate = 16_000;
  const data = rate * 2 * seconds;
  const b = Buffer.alloc(44 + data);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + data, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(data, 40);
  return b;
}

describe('lva, end to end', () => {
  const dir = path.join(tmp, 'main');

  it('captures text and finds it by keyword and by meaning, with the documented JSON', () => {
    const a = json<{ id: string }>(lva(dir, 'capture', '--json', '--tag', 'biology', 'CRISPR lets scientists edit genes with great precision'));
    expect(a.id).toMatch(/^[0-9A-Z]{26}$/);
    lva(dir, 'capture', 'Bread rises because yeast ferments the sugar in dough');

    const byWord = json<SearchOut>(lva(dir, 'search', 'CRISPR', '--json'));
    expect(byWord.mode).toBe('hybrid');
    expect(byWord.hits[0]!.id).toBe(a.id);
    const hit = byWord.hits[0]!;
    expect(Object.keys(hit)).toEqual(expect.arrayContaining(['id', 'score', 'title', 'snippet', 'createdAt', 'source']));
    expect(hit.source).toBe('text');
    expect(new Date(hit.createdAt).toISOString()).toBe(hit.createdAt);
    const [s, e] = hit.highlights[0]!;
    expect(hit.snippet.slice(s, e)).toBe('CRISPR');

    const byMeaning = json<SearchOut>(lva(dir, 'search', 'baking loaves with leavening', '--json'));
    expect(byMeaning.hits[0]!.title).toMatch(/^Bread rises/);

    const human = lva(dir, 'search', 'CRISPR');
    expect(human.status).toBe(0);
    expect(human.stdout).toContain('[CRISPR]');
  });

  it('stores a file as a blob, shows it, and rejects a file that is not what it claims', () => {
    const file = path.join(tmp, 'talk.wav');
    fs.writeFileSync(file, wav(2));
    const { id } = json<{ id: string }>(lva(dir, 'capture', '--file', file, '--json'));
    const shown = json<{ source: string; blobs: { mime: string; durationMs: number; sha256: string }[]; status: { transcribe?: { state: string; reason?: string } } }>(lva(dir, 'show', id, '--json'));
    expect(shown.source).toBe('voice');
    expect(shown.blobs[0]).toMatchObject({ mime: 'audio/wav', durationMs: 2000 });
    // No API key and no local model here: the transcript waits, and says what it waits for.
    expect(shown.status.transcribe?.state).toBe('waiting');
    expect(shown.status.transcribe?.reason).toMatch(/OPENAI_API_KEY|model/);
    expect(fs.existsSync(path.join(dir, 'blobs', shown.blobs[0]!.sha256.slice(0, 2), shown.blobs[0]!.sha256))).toBe(true);

    const fake = path.join(tmp, 'photo.png');
    fs.writeFileSync(fake, 'not really a png');
    const bad = lva(dir, 'capture', '--file', fake);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('not a valid png');
  });

  it('imports JSONL, reporting bad lines by number while keeping the good ones', () => {
    const file = path.join(tmp, 'notes.jsonl');
    fs.writeFileSync(
      file,
      [
        JSON.stringify({ text: 'Photosynthesis turns light into chemical energy', tags: ['biology'] }),
        '{ this is not json',
        JSON.stringify({ title: 'no text field' }),
        JSON.stringify({ text: 'The Treaty of Westphalia ended the Thirty Years War', createdAt: '1999-05-01T10:00:00Z', source: 'voice' }),
        JSON.stringify({ text: 'bad source', source: 'telepathy' }),
      ].join('\n'),
    );
    const r = lva(dir, 'import', file, '--json');
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as { line: number; id: string }[];
    expect(out.map((o) => o.line)).toEqual([1, 4]);
    expect(r.stderr).toMatch(/line 2: not valid JSON/);
    expect(r.stderr).toMatch(/line 3: text/);
    expect(r.stderr).toMatch(/line 5: source/);
    const found = json<SearchOut>(lva(dir, 'search', 'Westphalia', '--json'));
    expect(found.hits[0]!.id).toBe(out[1]!.id);
    expect(found.hits[0]!.createdAt).toBe('1999-05-01T10:00:00.000Z');
    expect(found.hits[0]!.source).toBe('voice');
  });

  it('filters search by source, tag and date', () => {
    const voice = json<SearchOut>(lva(dir, 'search', 'energy war genes', '--source', 'voice', '--json'));
    expect(voice.hits.every((h) => h.source === 'voice')).toBe(true);
    const tagged = json<SearchOut>(lva(dir, 'search', 'energy war genes', '--tag', 'biology', '--json'));
    expect(tagged.hits.map((h) => h.title).sort()).toEqual(['CRISPR lets scientists edit genes with great precision', 'Photosynthesis turns light into chemical energy']);
    const old = json<SearchOut>(lva(dir, 'search', 'war treaty', '--to', '2000-01-01', '--json'));
    expect(old.hits.map((h) => h.title)).toEqual(['The Treaty of Westphalia ended the Thirty Years War']);
  });

  it('exports JSONL and Markdown that round-trip through import', () => {
    const exported = lva(dir, 'export', '--format', 'jsonl');
    expect(exported.status).toBe(0);
    const lines = exported.stdout.trim().split('\n');
    expect(lines.length).toBe(5);

    const jsonl = path.join(tmp, 'export.jsonl');
    fs.writeFileSync(jsonl, exported.stdout);
    const copy = path.join(tmp, 'copy');
    expect(lva(copy, 'import', jsonl).status).toBe(0);
    expect(lva(copy, 'export').stdout).toBe(exported.stdout);
    // A second import of the same export adds nothing.
    const again = json<{ existing?: boolean }[]>(lva(copy, 'import', jsonl, '--json'));
    expect(again.every((r) => r.existing)).toBe(true);
    expect(lva(copy, 'export').stdout).toBe(exported.stdout);

    const md = path.join(tmp, 'md');
    expect(lva(dir, 'export', '--format', 'markdown', '--out', md).status).toBe(0);
    expect(fs.readdirSync(md)).toHaveLength(5);
    const fromMd = path.join(tmp, 'from-md');
    expect(lva(fromMd, 'import', md).status).toBe(0);
    expect(lva(fromMd, 'export').stdout).toBe(exported.stdout);
  });

  it('imports a folder of plain Markdown notes, titled by their heading or file name', () => {
    const notes = path.join(tmp, 'notes');
    fs.mkdirSync(notes);
    fs.writeFileSync(path.join(notes, 'a.md'), '# Fourier transforms\n\nAny signal is a sum of sines.\n');
    fs.writeFileSync(path.join(notes, 'b.md'), 'Gradient descent walks downhill on the loss.\n');
    fs.writeFileSync(path.join(notes, 'skip.txt'), 'not markdown');
    const target = path.join(tmp, 'notes-dir');
    const out = json<{ line: string }[]>(lva(target, 'import', notes, '--json'));
    expect(out.map((o) => o.line)).toEqual(['a.md', 'b.md']);
    const list = json<{ captures: { title: string }[] }>(lva(target, 'list', '--json'));
    expect(list.captures.map((c) => c.title).sort()).toEqual(['Fourier transforms', 'b']);
  });

  it('reindex rebuilds the index with the same results', () => {
    const before = json<SearchOut>(lva(dir, 'search', 'plants and sunlight', '--json'));
    const r = json<{ captures: number }>(lva(dir, 'reindex', '--json'));
    expect(r.captures).toBe(5);
    const after = json<SearchOut>(lva(dir, 'search', 'plants and sunlight', '--json'));
    expect(after.hits.map((h) => h.id)).toEqual(before.hits.map((h) => h.id));
  });

  it('reports stats', () => {
    const s = json<{ captures: number; bySource: Record<string, number>; blobs: { count: number }; embedder: { id: string } }>(lva(dir, 'stats', '--json'));
    expect(s.captures).toBe(5);
    expect(s.bySource).toEqual({ text: 3, voice: 2 });
    expect(s.blobs.count).toBe(1);
    expect(s.embedder.id).toBe('use-lite-512');
  });

  it('answers wrong input with one line and a non-zero exit, never a stack trace', () => {
    const cases: [string[], number, RegExp][] = [
      [['frobnicate'], 2, /unknown command/],
      [['search'], 2, /usage: lva search/],
      [['search', 'x', '--limit', 'lots'], 2, /--limit/],
      [['search', 'x', '--bogus'], 2, /unknown option/],
      [['search', 'x', '--source', 'telepathy'], 2, /--source must be one of/],
      [['search', 'x', '--from', 'yesterday-ish'], 2, /--from must be a date/],
      [['show', '01ARZ3NDEKTSV4RRFFQ69G5FAV'], 1, /no capture/],
      [['capture'], 2, /nothing to capture/],
      [['capture', '--file', path.join(tmp, 'missing.wav')], 1, /no such file/],
      [['import', path.join(tmp, 'missing.jsonl')], 2, /no such file/],
      [['export', '--format', 'pdf'], 2, /--format/],
    ];
    for (const [args, code, message] of cases) {
      const r = lva(dir, ...args);
      expect(r.status, args.join(' ')).toBe(code);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('refuses a data directory that is a file', () => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, '');
    const r = lva(file, 'list');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is a file, not a data directory/);
  });
});
