import { CryptoError } from './errors.ts';

// Crockford's alphabet: no I, L, O or U, so what a person reads aloud or retypes stays unambiguous.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const VALUES = new Map<string, number>([...ALPHABET].map((c, i) => [c, i]));
// Crockford's decoding rule: letters people confuse with digits read as those digits.
const LOOKALIKES: Readonly<Record<string, string>> = { O: '0', I: '1', L: '1' };

export function toCrockford(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(value >> bits) & 31]!;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31]!;
  return out;
}

/** Upper-cases, drops spaces and dashes, maps look-alikes; rejects anything else with BAD_INPUT. */
export function fromCrockford(text: string): Uint8Array {
  const symbols = text.toUpperCase().replace(/[\s-]+/gu, '');
  const out = new Uint8Array(Math.floor((symbols.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const raw of symbols) {
    const digit = VALUES.get(LOOKALIKES[raw] ?? raw);
    if (digit === undefined) throw new CryptoError('BAD_INPUT', `'${raw}' is not a valid code character`);
    value = ((value << 5) | digit) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  // Padding bits must be zero, or two different strings would decode to the same bytes.
  if ((value & ((1 << bits) - 1)) !== 0) throw new CryptoError('BAD_INPUT', 'code has non-zero padding bits');
  return out;
}
