import fs from 'node:fs';
import path from 'node:path';
import type { Capture } from '@lva/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicFake, type AnthropicFake } from '../../../test/fakes/anthropicFake.ts';
import { modelResponder } from '../../../test/fakes/modelResponder.ts';
import { corruptPdf, makeEncryptedPdf, makePdf } from '../../../test/fixtures/pdf.ts';
import type { Core, CoreEvent } from '../Core.ts';
import { drainUntil, jobOf, openCore, record, settingsFor, tempDir } from './pipelineHelpers.ts';

/**
 * Documents through the pipeline, with the document agent in the worker process: a file becomes a
 * parent capture and its parts, each part searchable and analysed; unreadable files fail at once
 * with the reason on the capture; a long extraction can be cancelled.
 */

const GLOSSARY = { photosynthesis: 'topic', chlorophyll: 'term', 'Calvin cycle': 'topic', mitochondria: 'term', 'ATP synthase': 'term' };
const TOPICS = ['photosynthesis and chlorophyll', 'the Calvin cycle', 'mitochondria and ATP synthase'];

/** About 1,300–1,600 characters a page, so each page is a part of its own. */
function pageText(page: number): string[] {
  return Array.from({ length: 19 }, (_, line) => `Page ${page} line ${line + 1} is about ${TOPICS[page - 1]} in the life of a plant cell.`);
}

async function partsOf(core: Core, parentId: string): Promise<Capture[]> {
  const parts: Capture[] = [];
  for await (const c of core.allCaptures()) if (c.origin?.parentId === parentId) parts.push(c);
  return parts.sort((a, b) => (a.origin?.index ?? 0) - (b.origin?.index ?? 0));
}

function documentProgress(events: readonly CoreEvent[]): Extract<CoreEvent, { type: 'progress' }>[] {
  return events.filter((e): e is Extract<CoreEvent, { type: 'progress' }> => e.type === 'progress' && e.task === 'document');
}

describe('documents through the agent pipeline', () => {
  let dir: string;
  let fake: AnthropicFake;
  let core: Core;

  beforeAll(async () => {
    dir = tempDir('pipeline-docs');
    fake = await startAnthropicFake({ defaultResponse: modelResponder({ glossary: GLOSSARY }) });
    core = await openCore(dir, { settings: settingsFor(fake.url) });
  });

  afterAll(async () => {
    await core?.close();
    await fake?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const write = (name: string, bytes: Uint8Array | string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  };

  it('a 3-page PDF becomes parts with page numbers, searchable, with concepts; extracting again adds no parts', async () => {
    const events = record(core);
    const parent = await core.captureFile(write('cells.pdf', makePdf([1, 2, 3].map(pageText), { title: 'Plant cells' })));
    expect(parent.status.extract?.state).toBe('pending');
    await core.drain();

    const stored = (await core.get(parent.id))!;
    expect(stored.status.extract?.state).toBe('done');
    expect(stored.title).toBe('Plant cells');
    expect(stored.text).toMatch(/^Plant cells\n3 pages, 3 parts$/);
    const parts = await partsOf(core, parent.id);
    expect(parts.map((p) => [p.origin?.index, p.origin?.page, p.source])).toEqual([
      [0, 1, 'document'],
      [1, 2, 'document'],
      [2, 3, 'document'],
    ]);
    expect(parts.map((p) => p.title)).toEqual(['Plant cells, p. 1', 'Plant cells, p. 2', 'Plant cells, p. 3']);
    for (const part of parts) {
      expect(part.createdAt).toBe(parent.createdAt);
      expect(part.status.concepts?.state).toBe('done');
    }
    expect(parts[0]!.concepts.map((c) => c.name)).toEqual(['photosynthesis', 'chlorophyll']);
    expect(parts[1]!.concepts.map((c) => c.name)).toEqual(['Calvin cycle']);
    expect(parts[2]!.concepts.map((c) => c.name)).toEqual(['mitochondria', 'ATP synthase']);
    expect((await core.graph.capturesByConcept('calvin cycle')).map((c) => c.id)).toEqual([parts[1]!.id]);
    expect((await core.search({ query: 'Calvin cycle' })).hits[0]?.id).toBe(parts[1]!.id);

    const progress = documentProgress(events);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.some((p) => p.total === 3 && p.done === 3 && p.message.startsWith('cells.pdf: reading pages'))).toBe(true);

    // Running the extraction again (a crash after storing the parts, or a retry) finds the parts it made.
    core.queue.enqueue('extract', parent.id, { captureId: parent.id });
    await core.drain();
    expect(jobOf(core, 'extract', parent.id).state).toBe('done');
    expect((await partsOf(core, parent.id)).map((p) => p.id)).toEqual(parts.map((p) => p.id));
    expect(core.stats().captures).toBe(4);
  });

  it('an encrypted PDF fails at once, without retries, saying it needs the password removed', async () => {
    const parent = await core.captureFile(write('secret.pdf', makeEncryptedPdf([['Top secret notes on chlorophyll.']], 'hunter2')));
    await core.drain();
    // Failed after this one drain: a retry would have left it pending behind a backoff.
    const job = jobOf(core, 'extract', parent.id);
    expect(job.state).toBe('failed');
    expect(job.attempts).toBe(1);
    expect(job.lastError).toMatch(/password/);
    const stored = (await core.get(parent.id))!;
    expect(stored.status.extract?.state).toBe('failed');
    expect(stored.status.extract?.reason).toMatch(/password-protected/);
    expect(await partsOf(core, parent.id)).toEqual([]);
  });

  it('a damaged PDF fails at once, saying it is damaged', async () => {
    const parent = await core.captureFile(write('broken.pdf', corruptPdf()));
    await core.drain();
    const job = jobOf(core, 'extract', parent.id);
    expect(job.state).toBe('failed');
    expect(job.lastError).toMatch(/damaged/);
    const status = (await core.get(parent.id))!.status.extract;
    expect(status?.state).toBe('failed');
    expect(status?.reason).toMatch(/damaged/);
  });

  it('a Markdown file becomes parts titled by their heading path', async () => {
    const md = ['# Botany', '', 'Notes from the course.', '', '## Leaves', '', 'Chlorophyll makes leaves green.', '', '### Light', '', 'Photosynthesis needs light.', '', '## Energy', '', 'The Calvin cycle fixes carbon.'].join('\n');
    const parent = await core.captureFile(write('botany.md', md));
    await core.drain();
    const stored = (await core.get(parent.id))!;
    expect(stored.status.extract?.state).toBe('done');
    expect(stored.title).toBe('Botany');
    const parts = await partsOf(core, parent.id);
    expect(parts.map((p) => p.title)).toEqual(['Botany', 'Botany › Leaves', 'Botany › Leaves › Light', 'Botany › Energy']);
    expect(parts.every((p) => p.origin?.page === undefined)).toBe(true);
    expect(parts[2]!.concepts.map((c) => c.name)).toEqual(['photosynthesis']);
    expect((await core.search({ query: 'fixes carbon' })).hits[0]?.id).toBe(parts[3]!.id);
  });

  it('a long PDF can be cancelled while it is read: the job fails as cancelled and the capture says so', async () => {
    const pages = Array.from({ length: 300 }, (_, i) => [`Page ${i + 1} of a very long book about photosynthesis.`, 'More text on this page.']);
    const parent = await core.captureFile(write('long.pdf', makePdf(pages)));
    const job = jobOf(core, 'extract', parent.id);
    let cancelled = false;
    const off = core.on((e) => {
      if (!cancelled && e.type === 'progress' && e.task === 'document') cancelled = core.cancelJob(job.id);
    });
    try {
      await core.drain();
    } finally {
      off();
    }
    expect(cancelled).toBe(true);
    const after = jobOf(core, 'extract', parent.id);
    expect(after).toMatchObject({ state: 'failed', lastError: 'cancelled' });
    const status = (await core.get(parent.id))!.status.extract;
    expect(status?.state).toBe('failed');
    expect(status?.reason).toMatch(/^cancelled/);
    expect(await partsOf(core, parent.id)).toEqual([]);
    // The worker is still there for the next job.
    const next = await core.capture({ text: 'Chlorophyll absorbs red and blue light.' });
    await core.drain();
    expect((await core.get(next.id))!.status.concepts?.state).toBe('done');
  });

  it('a worker that dies while reading a PDF leaves the extraction waiting, not failed; the next run completes it', async () => {
    const pages = Array.from({ length: 300 }, (_, i) => [`Page ${i + 1} of a long book about the Calvin cycle.`, 'More text on this page.']);
    const parent = await core.captureFile(write('crash.pdf', makePdf(pages, { title: 'Long book' })));
    let killed: number | undefined;
    const off = core.on((e) => {
      if (killed === undefined && e.type === 'progress' && e.task === 'document' && core.agentsPid !== undefined) {
        killed = core.agentsPid;
        process.kill(killed, 'SIGKILL');
      }
    });
    try {
      await core.drain();
    } finally {
      off();
    }
    expect(killed).toBeTypeOf('number');
    const job = jobOf(core, 'extract', parent.id);
    expect(job).toMatchObject({ state: 'pending', attempts: 0 });
    expect(job.lastError).toMatch(/agent worker died/);
    const waiting = (await core.get(parent.id))!.status.extract;
    expect(waiting?.state).toBe('waiting');
    expect(await partsOf(core, parent.id)).toEqual([]);

    await drainUntil(core, () => jobOf(core, 'extract', parent.id).state === 'done', 'the extraction after the crash');
    expect((await core.get(parent.id))!.status.extract?.state).toBe('done');
    const parts = await partsOf(core, parent.id);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts[0]!.origin?.page).toBe(1);
    expect(parts.at(-1)!.origin?.pageEnd ?? parts.at(-1)!.origin?.page).toBe(300);
    expect(core.agentsPid).not.toBe(killed);
  });
});
