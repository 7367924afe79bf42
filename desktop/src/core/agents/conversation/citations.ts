/**
 * Claude is asked to cite a capture as [[ID]] right after the sentence that uses it. This turns the
 * stream of text deltas into text with numbered references ([1], [2], …) and citation events, across
 * delta boundaries. A marker naming a capture that was not retrieved is dropped: the model may only
 * cite what it was shown, and a made-up reference must never reach the person.
 */

export type CitationPiece =
  | { type: 'text'; text: string }
  | { type: 'citation'; n: number; captureId: string }
  | { type: 'dropped'; captureId: string };

const MARKER = /\[\[([0-9A-Za-z]{10,40})\]\]/u;
/** Longest marker: [[ + 40 + ]]; anything longer after a '[[' is plain text. */
const MAX_MARKER = 44;

export class CitationStream {
  readonly #allowed: ReadonlySet<string>;
  readonly #numbers = new Map<string, number>();
  #buffer = '';

  constructor(allowed: Iterable<string>) {
    this.#allowed = new Set([...allowed].map((id) => id.toUpperCase()));
  }

  /** Citations so far, in the order they were first used. */
  get cited(): { n: number; captureId: string }[] {
    return [...this.#numbers].map(([captureId, n]) => ({ n, captureId }));
  }

  push(delta: string): CitationPiece[] {
    this.#buffer += delta;
    return this.#drain(false);
  }

  /** The end of the stream: whatever is held back is text. */
  end(): CitationPiece[] {
    return this.#drain(true);
  }

  #drain(final: boolean): CitationPiece[] {
    const out: CitationPiece[] = [];
    for (;;) {
      const open = this.#buffer.indexOf('[[');
      if (open < 0) {
        // A lone trailing '[' may be the start of a marker in the next delta.
        const keep = !final && this.#buffer.endsWith('[') ? 1 : 0;
        this.#text(out, this.#buffer.slice(0, this.#buffer.length - keep));
        this.#buffer = this.#buffer.slice(this.#buffer.length - keep);
        return out;
      }
      this.#text(out, this.#buffer.slice(0, open));
      this.#buffer = this.#buffer.slice(open);
      const match = MARKER.exec(this.#buffer);
      if (match && match.index === 0) {
        this.#marker(out, match[1]!.toUpperCase());
        this.#buffer = this.#buffer.slice(match[0].length);
        continue;
      }
      const close = this.#buffer.indexOf(']]');
      if (close >= 0 || this.#buffer.length > MAX_MARKER || final) {
        // Not a marker after all: pass the brackets through as text.
        this.#text(out, this.#buffer.slice(0, 2));
        this.#buffer = this.#buffer.slice(2);
        continue;
      }
      return out;
    }
  }

  #marker(out: CitationPiece[], captureId: string): void {
    if (!this.#allowed.has(captureId)) {
      out.push({ type: 'dropped', captureId });
      return;
    }
    let n = this.#numbers.get(captureId);
    if (n === undefined) {
      n = this.#numbers.size + 1;
      this.#numbers.set(captureId, n);
    }
    out.push({ type: 'citation', n, captureId });
    this.#text(out, `[${n}]`);
  }

  #text(out: CitationPiece[], text: string): void {
    if (!text) return;
    const last = out.at(-1);
    if (last?.type === 'text') last.text += text;
    else out.push({ type: 'text', text });
  }
}
