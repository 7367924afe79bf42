import { wordlist } from '@scure/bip39/wordlists/english.js';
import { describe, expect, it } from 'vitest';
import { newAccountKey } from './accountKeys.ts';
import { CryptoError } from './errors.ts';
import { accountKeyToPhrase, phraseToAccountKey } from './recovery.ts';

function badPhrase(phrase: string): CryptoError {
  try {
    phraseToAccountKey(phrase);
  } catch (error) {
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as CryptoError).code).toBe('BAD_PHRASE');
    return error as CryptoError;
  }
  throw new Error('expected BAD_PHRASE');
}

describe('recovery phrase', () => {
  it('turns the account key into 24 English words and back', () => {
    const key = newAccountKey();
    const phrase = accountKeyToPhrase(key);
    expect(phrase.split(' ')).toHaveLength(24);
    expect(phrase.split(' ').every((w) => wordlist.includes(w))).toBe(true);
    expect(phraseToAccountKey(phrase)).toEqual(key);
  });

  it('matches the BIP-39 test vector for all-zero entropy', () => {
    const phrase = accountKeyToPhrase(new Uint8Array(32));
    expect(phrase).toBe(`${'abandon '.repeat(23)}art`);
  });

  it('forgives case, extra spaces and line breaks', () => {
    const key = newAccountKey();
    const messy = `  ${accountKeyToPhrase(key).toUpperCase().split(' ').join('  \n')} `;
    expect(phraseToAccountKey(messy)).toEqual(key);
  });

  it('names the misspelled word and suggests a fix', () => {
    const words = accountKeyToPhrase(newAccountKey()).split(' ');
    words[6] = 'xyz';
    expect(badPhrase(words.join(' ')).message).toBe("word 7 'xyz' is not in the word list");
    words[6] = 'abandx';
    expect(badPhrase(words.join(' ')).message).toBe("word 7 'abandx' is not in the word list (did you mean 'abandon'?)");
  });

  it('rejects a wrong checksum and a wrong word count', () => {
    const words = accountKeyToPhrase(new Uint8Array(32)).split(' ');
    words[23] = 'abandon';
    expect(badPhrase(words.join(' ')).message).toMatch(/one is wrong or two are swapped/);
    expect(badPhrase(words.slice(0, 12).join(' ')).message).toMatch(/has 12 words; it should have 24/);
    expect(badPhrase('').message).toMatch(/has 0 words/);
  });
});
