import { monthKey, captureIdTime, newCaptureId, orderedTurns, readConversation, type Conversation, type Turn, type TurnFeedback } from '@lva/shared';
import type { DocStore } from '../../docs/DocStore.ts';
import { CoreError } from '../../errors.ts';

export interface ConversationSummary {
  id: string;
  title: string;
  startedAt: number;
  turns: number;
  lastAt: number;
}

/**
 * Conversations as stored in the month journals (Automerge), so they sync like captures. A
 * conversation lives in the journal of the month it started; its turns are a map keyed by turn id, so
 * two devices adding turns while offline both keep theirs.
 */
export class Conversations {
  readonly #docs: DocStore;

  constructor(docs: DocStore) {
    this.#docs = docs;
  }

  async start(title: string, now = Date.now()): Promise<Conversation> {
    const conversation: Conversation = { id: newCaptureId(now), startedAt: now, deviceId: this.#docs.device.deviceId, title: title.slice(0, 200), turns: {} };
    await this.#docs.changeJournal(monthKey(now), (doc) => {
      doc.conversations[conversation.id] = conversation;
    });
    return conversation;
  }

  async get(id: string): Promise<Conversation | undefined> {
    if (!validId(id)) return undefined;
    for (const docId of this.#docs.journalsOf(monthKey(captureIdTime(id)))) {
      try {
        const raw = (await this.#docs.journal(docId)).doc().conversations[id];
        if (raw !== undefined) return readConversation(raw);
      } catch {
        // A journal listed but not received yet.
      }
    }
    return undefined;
  }

  /** Newest first. Malformed records (from a buggy or newer device) are skipped. */
  async list(): Promise<ConversationSummary[]> {
    const out: ConversationSummary[] = [];
    for (const conversation of await this.all()) {
      const turns = orderedTurns(conversation);
      out.push({ id: conversation.id, title: conversation.title, startedAt: conversation.startedAt, turns: turns.length, lastAt: turns.at(-1)?.at ?? conversation.startedAt });
    }
    return out.sort((a, b) => b.lastAt - a.lastAt);
  }

  async all(): Promise<Conversation[]> {
    const out: Conversation[] = [];
    for (const handle of await this.#docs.loadedJournals()) {
      for (const raw of Object.values(handle.doc().conversations ?? {})) {
        const conversation = readConversation(raw);
        if (conversation) out.push(conversation);
      }
    }
    return out;
  }

  async addTurn(conversationId: string, turn: Omit<Turn, 'id' | 'at'> & { at?: number }): Promise<Turn> {
    const at = turn.at ?? Date.now();
    const full: Turn = { ...stripUndefined(turn), id: newCaptureId(at), at };
    await this.#change(conversationId, (c) => {
      c.turns[full.id] = full;
    });
    return full;
  }

  async feedback(conversationId: string, turnId: string, feedback: { rating: 'up' | 'down'; correction?: string }): Promise<TurnFeedback> {
    const conversation = await this.get(conversationId);
    const turn = conversation?.turns[turnId];
    if (!turn) throw new CoreError('NOT_FOUND', `no turn ${turnId} in conversation ${conversationId}`);
    if (turn.role !== 'assistant') throw new CoreError('BAD_INPUT', 'feedback is given on replies, not on what you said');
    const correction = feedback.correction?.trim();
    if (correction !== undefined && correction.length > 10_000) throw new CoreError('BAD_INPUT', 'the correction is longer than 10,000 characters');
    const record: TurnFeedback = { rating: feedback.rating, at: Date.now(), deviceId: this.#docs.device.deviceId, ...(correction ? { correction } : {}) };
    await this.#change(conversationId, (c) => {
      const stored = c.turns[turnId] as Turn;
      stored.feedback = record;
    });
    return record;
  }

  async #change(conversationId: string, edit: (conversation: { turns: Record<string, unknown> }) => void): Promise<void> {
    if (!validId(conversationId)) throw new CoreError('NOT_FOUND', `no conversation ${conversationId}`);
    const found = await this.#docs.changeJournalHolding(
      monthKey(captureIdTime(conversationId)),
      (doc) => doc.conversations[conversationId] !== undefined,
      (doc) => edit(doc.conversations[conversationId] as { turns: Record<string, unknown> }),
    );
    if (!found) throw new CoreError('NOT_FOUND', `no conversation ${conversationId}`);
  }
}

function validId(id: string): boolean {
  return /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id);
}

/** Automerge rejects `undefined` values. */
function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
