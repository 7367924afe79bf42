// Crockford base32: sortable as plain strings, no ambiguous letters (I, L, O, U).
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_LENGTH = 10;
const RANDOM_LENGTH = 16;

export const CAPTURE_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

let lastTime = -1;
let lastRandom: number[] = [];

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < TIME_LENGTH; i++) {
    out = ALPHABET[ms % 32]! + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function randomDigits(): number[] {
  const bytes = new Uint8Array(RANDOM_LENGTH);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b % 32);
}

/**
 * A ULID: 48 bits of milliseconds then 80 random bits, so ids sort by creation time across devices.
 * Within one millisecond the random part is incremented, so ids made by one process stay ordered.
 */
export function newCaptureId(now: number = Date.now()): string {
  if (now === lastTime) {
    const next = [...lastRandom];
    let i = next.length - 1;
    while (i >= 0 && next[i] === 31) next[i--] = 0;
    if (i >= 0) next[i]! += 1;
    lastRandom = next;
  } else {
    lastTime = now;
    lastRandom = randomDigits();
  }
  return encodeTime(now) + lastRandom.map((d) => ALPHABET[d]).join('');
}

/** The creation time encoded in an id, in ms since the epoch. */
export function captureIdTime(id: string): number {
  let ms = 0;
  for (const ch of id.slice(0, TIME_LENGTH)) ms = ms * 32 + ALPHABET.indexOf(ch);
  return ms;
}
