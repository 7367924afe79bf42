import { describe, expect, it } from 'vitest';
import { CitationStream, type CitationPiece } from './citations.ts';

const A = '01JD3ZQ8X4M2N7P5R6S9T0VWXY';
const B = '01JD3ZQ8X4M2N7P5R6S9T0VWXZ';
const NEVER = '01JD3ZQ8X4M2N7P5R6S9T0ZZZZ';

function run(deltas: string[], allowed = [A, B]): { text: string; pieces: CitationPiece[]; cited: { n: number; captureId: string }[] } {
  const stream = new CitationStream(allowed);
  const pieces = [...deltas.flatMap((d) => stream.push(d)), ...stream.end()];
  return { text: pieces.map((p) => (p.type === 'text' ? p.text : '')).join(''), pieces, cited: stream.cited };
}

describe('CitationStream', () => {
  it('numbers retrieved captures in order of first use, whatever the delta boundaries', () => {
    const full = `Cells make energy in mitochondria [[${A}]]. Plants use light [[${B}]], as noted before [[${A}]].`;
    const expected = 'Cells make energy in mitochondria [1]. Plants use light [2], as noted before [1].';
    for (const size of [1, 2, 3, 7, 1000]) {
      const deltas = full.match(new RegExp(`[\\s\\S]{1,${size}}`, 'g'))!;
      const out = run(deltas);
      expect(out.text, `delta size ${size}`).toBe(expected);
      expect(out.cited).toEqual([
        { n: 1, captureId: A },
        { n: 2, captureId: B },
      ]);
    }
  });

  it('drops a citation of a capture that was not retrieved, and says so', () => {
    const out = run(['Made up [[', NEVER, ']] claim. Real [[', A.toLowerCase(), ']].']);
    expect(out.text).toBe('Made up  claim. Real [1].');
    expect(out.pieces).toContainEqual({ type: 'dropped', captureId: NEVER });
    expect(out.cited).toEqual([{ n: 1, captureId: A }]);
  });

  it('passes brackets that are not markers through as text', () => {
    expect(run(['an array [[1, 2], [3]] and a [link] and [[not closed']).text).toBe('an array [[1, 2], [3]] and a [link] and [[not closed');
    expect(run(['ends with [']).text).toBe('ends with [');
  });
});
