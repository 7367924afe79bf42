import { entropyToMnemonic, mnemonicToEntropy } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { ACCOUNT_KEY_LENGTH } from './accountKeys.ts';
import { CryptoError, requireKey } from './errors.ts';

export const RECOVERY_WORD_COUNT = 24;
const WORDS = new Set(wordlist);

/**
 * The account key itself as 24 BIP-39 words (256 bits + 8-bit checksum), not a seed derived
 * from them: the phrase must bring back the very key that encrypted existing data.
 */
export function accountKeyToPhrase(accountKey: Uint8Array): string {
  requireKey(accountKey, ACCOUNT_KEY_LENGTH, 'account key');
  return entropyToMnemonic(accountKey, wordlist);
}

// BIP-39 English words are unique in their first four letters, so that prefix names one word.
function suggestion(word: string): string {
  const match = word.length >= 4 ? wordlist.find((w) => w.startsWith(word.slice(0, 4))) : undefined;
  return match ? ` (did you mean '${match}'?)` : '';
}

/** Forgiving about case, spacing and line breaks; precise about which word is wrong. */
export function phraseToAccountKey(phrase: string): Uint8Array {
  if (typeof phrase !== 'string') throw new CryptoError('BAD_PHRASE', 'the recovery phrase must be text');
  const words = phrase.normalize('NFKD').toLowerCase().split(/[\s,]+/u).filter(Boolean);
  if (words.length !== RECOVERY_WORD_COUNT) {
    throw new CryptoError('BAD_PHRASE', `the recovery phrase has ${words.length} words; it should have ${RECOVERY_WORD_COUNT}`);
  }
  words.forEach((word, i) => {
    if (!WORDS.has(word)) {
      throw new CryptoError('BAD_PHRASE', `word ${i + 1} '${word}' is not in the word list${suggestion(word)}`);
    }
  });
  try {
    return mnemonicToEntropy(words.join(' '), wordlist);
  } catch (cause) {
    throw new CryptoError(
      'BAD_PHRASE',
      'the recovery phrase does not check out: every word is valid, but one is wrong or two are swapped',
      { cause },
    );
  }
}
