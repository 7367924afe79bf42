import { describe, expect, it } from 'vitest';
import { ftsQuery, ftsTerms } from './ftsQuery.ts';

describe('ftsQuery', () => {
  it('quotes every word so user input is never FTS5 syntax', () => {
    expect(ftsQuery('NEAR(a b) OR "x* AND -y:')).toBe('"near" OR "b" OR "x" OR "y"');
  });

  it('drops function words unless nothing else is left', () => {
    expect(ftsTerms('how does the heart pump blood')).toEqual(['"heart"', '"pump"', '"blood"']);
    expect(ftsTerms('to be or not to be')).toEqual(['"to"', '"be"', '"or"', '"not"']);
  });

  it('matches the last word as a prefix only while typing', () => {
    expect(ftsQuery('germs')).toBe('"germs"');
    expect(ftsQuery('mitochon', { prefixLastWord: true })).toBe('"mitochon"*');
    expect(ftsQuery('mitochondria ', { prefixLastWord: true })).toBe('"mitochondria"');
  });

  it('has nothing to search in punctuation alone', () => {
    expect(ftsQuery('?!… --')).toBeUndefined();
  });
});
