import { monthKey, readInsight, type Insight } from '@lva/shared';
import type { DocStore } from '../../docs/DocStore.ts';

/**
 * Insights as stored in the month journals, under stable ids (`weekly:2026-W47`), so a digest made
 * again replaces the earlier one, on every device, instead of piling up copies.
 */
export class Insights {
  readonly #docs: DocStore;

  constructor(docs: DocStore) {
    this.#docs = docs;
  }

  async put(insight: Insight): Promise<void> {
    const month = monthKey(insight.period.from);
    const record = JSON.parse(JSON.stringify(insight)) as Insight; // plain data: Automerge rejects undefined
    const replaced = await this.#docs.changeJournalHolding(
      month,
      (doc) => doc.insights[insight.id] !== undefined,
      (doc) => void (doc.insights[insight.id] = record),
    );
    if (!replaced) await this.#docs.changeJournal(month, (doc) => void (doc.insights[insight.id] = record));
  }

  async get(id: string): Promise<Insight | undefined> {
    return (await this.list()).find((i) => i.id === id);
  }

  /** Newest period first; malformed records from other devices are skipped. */
  async list(): Promise<Insight[]> {
    const byId = new Map<string, Insight>();
    for (const handle of await this.#docs.loadedJournals()) {
      for (const raw of Object.values(handle.doc().insights ?? {})) {
        const insight = readInsight(raw);
        // Two journals of one month can each hold the week (made offline on two devices): the newer wins.
        if (insight && (byId.get(insight.id)?.createdAt ?? -1) < insight.createdAt) byId.set(insight.id, insight);
      }
    }
    return [...byId.values()].sort((a, b) => b.period.from - a.period.from);
  }
}
