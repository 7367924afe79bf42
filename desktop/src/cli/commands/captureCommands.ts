import fs from 'node:fs';
import path from 'node:path';
import { CAPTURE_SOURCES, type CaptureSource } from '@lva/shared';
import { formatUsd } from '../../core/agents/cost/pricing.ts';
import type { Core } from '../../core/Core.ts';
import { CoreError } from '../../core/errors.ts';
import { UsageError } from '../CliError.ts';
import { parse, parseLimit, print, withCore } from '../context.ts';
import { date } from '../render.ts';
import { reportUnfinished, unfinishedJobsOf, unfinishedPartJobsOf } from './jobsCommands.ts';

function sources(values: string[] | undefined): CaptureSource[] | undefined {
  if (!values?.length) return undefined;
  for (const s of values) if (!(CAPTURE_SOURCES as readonly string[]).includes(s)) throw new UsageError(`--source must be one of ${CAPTURE_SOURCES.join(', ')} (got "${s}")`);
  return values as CaptureSource[];
}
export { sources as parseSources };

/**
 * Waits for the index and the capture's pipeline (transcript, description, parts, concepts), so the
 * capture is searchable and complete when the command returns; `--no-wait` leaves it to the next run.
 * What is left waiting or failed is said, with the reason: the capture itself is stored either way.
 */
async function settle(core: Core, captureId: string, wait: boolean): Promise<void> {
  if (!wait) return;
  await core.drain();
  reportUnfinished(unfinishedJobsOf(core, captureId), unfinishedPartJobsOf(core, captureId));
}

export async function captureCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    file: { type: 'string' },
    title: { type: 'string' },
    tag: { type: 'string', multiple: true },
    source: { type: 'string' },
    'no-wait': { type: 'boolean', default: false },
  });
  const text = positionals.join(' ');
  if (!values.file && !text.trim()) throw new UsageError('nothing to capture: give text, e.g. lva capture "what I learned", or --file PATH');
  const source = sources(values.source ? [values.source] : undefined)?.[0];
  // Filled in once the capture has an id: its jobs' failures are reported after the drain, once.
  const summarised = new Set<string>();
  await withCore(values, async (core) => {
    const capture = values.file
      ? await core.captureFile(values.file, { ...(values.title ? { title: values.title } : {}), tags: values.tag ?? [], ...(text ? { text } : {}) })
      : await core.capture({ text, ...(values.title ? { title: values.title } : {}), tags: values.tag ?? [], ...(source ? { source } : {}) });
    summarised.add(capture.id);
    await settle(core, capture.id, !values['no-wait']);
    const final = (await core.get(capture.id)) ?? capture;
    const out = {
      id: final.id,
      title: final.title,
      text: final.text,
      source: final.source,
      status: final.status,
      concepts: final.concepts,
      jobs: unfinishedJobsOf(core, capture.id).map((j) => ({ id: j.id, kind: j.kind, state: j.state, reason: j.lastError })),
      partJobs: unfinishedPartJobsOf(core, capture.id),
    };
    print(values.json, out, () => `captured ${capture.id}`);
  }, { summarised });
}

export async function showCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { save: { type: 'string' } });
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new UsageError('usage: lva show ID [--save DIR]');
  await withCore(values, async (core) => {
    const capture = await core.get(id.toUpperCase());
    if (!capture) throw new CoreError('NOT_FOUND', `no capture with id ${id}`);
    if (values.save) {
      // Fetched from the relay if this device has never opened it.
      fs.mkdirSync(values.save, { recursive: true });
      for (const b of capture.blobs) fs.writeFileSync(path.join(values.save, path.basename(b.name ?? b.sha256)), await core.blob(b.sha256));
    }
    // What the agents spent on this capture, on this device (the ledger is per device).
    const spent = core.usage.forCapture(capture.id);
    const ai = { calls: spent.calls, costUsd: spent.costUsd, inputTokens: spent.inputTokens, outputTokens: spent.outputTokens, audioSeconds: spent.audioSeconds };
    print(values.json, { ...capture, ai }, () => {
      const lines = [
        `${capture.title || '(untitled)'}`,
        `id       ${capture.id}`,
        `created  ${date(capture.createdAt)}  (${capture.source}, device ${capture.deviceId})`,
      ];
      if (capture.origin) {
        const pages = capture.origin.page === undefined ? '' : `, page ${capture.origin.page}${capture.origin.pageEnd !== undefined && capture.origin.pageEnd !== capture.origin.page ? `–${capture.origin.pageEnd}` : ''}`;
        lines.push(`part of  ${capture.origin.parentId} (part ${capture.origin.index + 1}${pages})`);
      }
      if (capture.tags.length) lines.push(`tags     ${capture.tags.join(', ')}`);
      for (const b of capture.blobs) lines.push(`file     ${b.name ?? b.sha256} (${b.mime}, ${b.size} bytes${b.durationMs ? `, ${(b.durationMs / 1000).toFixed(1)} s` : ''})`);
      for (const [step, s] of Object.entries(capture.status)) lines.push(`${step.padEnd(8)} ${s.state}${s.reason ? `: ${s.reason}` : ''}`);
      if (capture.concepts.length) lines.push(`concepts ${capture.concepts.map((c) => c.name).join(', ')}`);
      lines.push(`index    ${capture.local.indexed ? 'indexed' : 'not yet indexed'}, ${capture.local.embedded ? 'embedded' : 'not yet embedded'}`);
      if (capture.edits.length) lines.push(`edited   ${capture.edits.length} time(s), last ${date(capture.edits.at(-1)!.at)}`);
      if (ai.calls > 0) lines.push(`AI       ${formatUsd(spent.costMicroUsd)} over ${ai.calls} call(s), ${ai.inputTokens + ai.outputTokens} tokens${ai.audioSeconds ? `, ${ai.audioSeconds.toFixed(1)} s of audio` : ''}`);
      lines.push('', capture.text);
      return lines.join('\n');
    });
  });
}

export async function listCommand(args: string[]): Promise<void> {
  const { values } = parse(args, { limit: { type: 'string' }, source: { type: 'string', multiple: true }, tag: { type: 'string', multiple: true } });
  const limit = parseLimit(values.limit, 20);
  const src = sources(values.source);
  await withCore(values, async (core) => {
    await core.catchUpIndex();
    const rows = core.list({ limit, filters: { ...(src ? { sources: src } : {}), ...(values.tag ? { tags: values.tag } : {}) } });
    const out = rows.map((r) => ({ id: r.id, title: r.title, createdAt: new Date(r.createdAt).toISOString(), source: r.source, tags: r.tags }));
    print(values.json, { captures: out }, () =>
      out.length ? rows.map((r) => `${r.id}  ${date(r.createdAt)}  ${r.source.padEnd(8)} ${r.title || '(untitled)'}`).join('\n') : 'no captures yet',
    );
  }, { readOnly: true });
}
