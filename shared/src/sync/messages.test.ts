import { describe, expect, it } from 'vitest';
import {
  MAX_CHUNK_CIPHERTEXT_BYTES,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_FRAME_BYTES,
  MAX_PULL_BATCH,
  NONCE_BYTES,
  PROTOCOL_VERSION,
} from './limits.ts';
import { fromBase64Url } from '../crypto/bytes.ts';
import { ChunkCiphertext, ClientFrame, ServerFrame } from './messages.ts';
import type { ClientFrameType, ServerFrameType } from './messages.ts';
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeFrame,
  utf8ByteLength,
} from './codec.ts';
import { seededRandom } from '../../test/seededRandom.ts';


function bytes(n: number, fill = 7): string {
  return Buffer.from(new Uint8Array(n).fill(fill)).toString('base64url');
}

const nonce = bytes(NONCE_BYTES);
const ciphertext = bytes(100);
const v = PROTOCOL_VERSION;

// Plain JSON, as a peer would send it: the decoders are what turn it into branded values.
const clientFrames: Record<ClientFrameType, Record<string, unknown>> = {
  hello: { v, type: 'hello', deviceId: 'abcdefgh23456789', accountId: 'acct_1' },
  auth: { v, type: 'auth', signature: bytes(64) },
  push: { v, type: 'push', rid: 'r1', docId: '4NMNnkMhL8jXrdJ9jamS58PAVdXu', chunk: { nonce, ciphertext }, clientChunkId: 'c-1' },
  pull: { v, type: 'pull', rid: 'r2', cursor: 0, limit: 100 },
  subscribe: { v, type: 'subscribe' },
  snapshot: { v, type: 'snapshot', rid: 'r3', docId: 'doc1', coversSeq: 42, snapshot: { nonce, ciphertext } },
  ping: { v, type: 'ping' },
};
const serverFrames: Record<ServerFrameType, Record<string, unknown>> = {
  challenge: { v, type: 'challenge', challenge: bytes(32), relayOrigin: 'wss://relay.example.com:8443' },
  welcome: { v, type: 'welcome', deviceId: 'abcdefgh23456789', accountId: 'acct_1', serverTime: 1_790_000_000_000 },
  ack: { v, type: 'ack', rid: 'r1', docId: 'doc1', seq: 7 },
  chunks: {
    v,
    type: 'chunks',
    rid: 'r2',
    items: [
      { docId: 'doc1', seq: 7, nonce, ciphertext, fromDevice: 'dev1' },
      { docId: 'doc2', seq: 8, nonce, ciphertext, fromDevice: 'dev2' },
    ],
    cursor: 8,
    more: true,
  },
  snapshotAck: { v, type: 'snapshotAck', rid: 'r3', docId: 'doc1', coversSeq: 42 },
  error: { v, type: 'error', rid: 'r1', code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 1500 },
  pong: { v, type: 'pong' },
};

function badFrame(result: ReturnType<typeof decodeClientFrame | typeof decodeServerFrame>): string {
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('unreachable');
  expect(result.error.code).toBe('BAD_FRAME');
  return result.error.message;
}

describe('frames round-trip through encode and decode', () => {
  it.each(Object.entries(clientFrames))('client %s', (_type, json) => {
    const first = decodeClientFrame(JSON.stringify(json));
    expect(first).toEqual({ ok: true, frame: json });
    if (!first.ok) return;
    const wire = encodeFrame(first.frame);
    expect(decodeClientFrame(wire)).toEqual(first);
    expect(decodeClientFrame(new TextEncoder().encode(wire))).toEqual(first);
  });

  it.each(Object.entries(serverFrames))('server %s', (_type, json) => {
    const first = decodeServerFrame(JSON.stringify(json));
    expect(first).toEqual({ ok: true, frame: json });
    if (!first.ok) return;
    const wire = encodeFrame(first.frame);
    expect(decodeServerFrame(wire)).toEqual(first);
    expect(decodeServerFrame(new TextEncoder().encode(wire))).toEqual(first);
  });

  it('covers every frame type of both unions', () => {
    expect(Object.keys(clientFrames).sort()).toEqual(ClientFrame.options.map((o) => o.shape.type.value).sort());
    expect(Object.keys(serverFrames).sort()).toEqual(ServerFrame.options.map((o) => o.shape.type.value).sort());
  });

  it('accepts the optional fields left out', () => {
    expect(decodeServerFrame(JSON.stringify({ v, type: 'chunks', items: [], cursor: 0, more: false })).ok).toBe(true);
    expect(decodeServerFrame(JSON.stringify({ v, type: 'error', code: 'BAD_FRAME', message: '' })).ok).toBe(true);
    expect(decodeClientFrame(JSON.stringify({ ...clientFrames.pull, docId: 'doc1' })).ok).toBe(true);
  });

  it('keeps client and server frames apart', () => {
    badFrame(decodeServerFrame(JSON.stringify(clientFrames.ping)));
    badFrame(decodeClientFrame(JSON.stringify(serverFrames.pong)));
  });
});

describe('frame size', () => {
  it('rejects oversized input as TOO_LARGE before parsing it', () => {
    // Not JSON at all: a parse would say BAD_FRAME, so TOO_LARGE proves the size came first.
    const text = '{'.repeat(MAX_FRAME_BYTES + 1);
    expect(decodeClientFrame(text)).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } });
    expect(decodeServerFrame(new Uint8Array(MAX_FRAME_BYTES + 1))).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } });
  });

  it('counts UTF-8 bytes, not string length', () => {
    const pad = 'é'.repeat(MAX_FRAME_BYTES / 2); // 2 bytes each, so the string is half the limit long
    const frame = JSON.stringify({ ...serverFrames.error, message: pad });
    expect(frame.length).toBeLessThan(MAX_FRAME_BYTES);
    expect(utf8ByteLength(frame)).toBe(new TextEncoder().encode(frame).byteLength);
    expect(decodeServerFrame(frame)).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } });
    expect(utf8ByteLength('a\u{1F600}\uD800x')).toBe(new TextEncoder().encode('a\u{1F600}\uD800x').byteLength);
  });

  it('fits a chunk of the largest ciphertext in one frame', () => {
    const big = bytes(MAX_CHUNK_CIPHERTEXT_BYTES);
    const frame = { ...serverFrames.chunks, items: [{ docId: 'd'.repeat(64), seq: Number.MAX_SAFE_INTEGER, nonce, ciphertext: big, fromDevice: 'x'.repeat(64) }] };
    const wire = JSON.stringify(frame);
    expect(utf8ByteLength(wire)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(decodeServerFrame(wire).ok).toBe(true);
  });
});

describe('bad frames', () => {
  it('rejects non-JSON, non-objects and invalid UTF-8', () => {
    expect(badFrame(decodeClientFrame('{"v":1,'))).toMatch(/not JSON/);
    expect(badFrame(decodeClientFrame('[1]'))).toMatch(/not a JSON object/);
    expect(badFrame(decodeClientFrame('null'))).toMatch(/not a JSON object/);
    expect(badFrame(decodeClientFrame(new Uint8Array([0x7b, 0xff, 0x7d])))).toMatch(/UTF-8/);
  });

  it('answers an unknown version with UNSUPPORTED_VERSION naming the supported one', () => {
    for (const version of [0, 2, 99]) {
      const result = decodeClientFrame(JSON.stringify({ ...clientFrames.hello, v: version, future: 'field' }));
      expect(result).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_VERSION' } });
      if (!result.ok) expect(result.error.message).toContain(`version ${PROTOCOL_VERSION}`);
    }
    expect(decodeServerFrame(JSON.stringify({ v: 2, type: 'whatever' }))).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_VERSION' } });
    expect(badFrame(decodeClientFrame(JSON.stringify({ type: 'ping' })))).toMatch(/^v:/);
    expect(badFrame(decodeClientFrame(JSON.stringify({ v: '1', type: 'ping' })))).toMatch(/^v:/);
  });

  it('rejects an unknown type', () => {
    expect(badFrame(decodeClientFrame(JSON.stringify({ v, type: 'delete' })))).toMatch(/^type:/);
    expect(badFrame(decodeServerFrame(JSON.stringify({ v })))).toMatch(/^type:/);
  });

  it('rejects extra keys, at the top and nested', () => {
    expect(badFrame(decodeClientFrame(JSON.stringify({ ...clientFrames.ping, extra: 1 })))).toMatch(/extra/);
    expect(badFrame(decodeClientFrame('{"v":1,"type":"ping","__proto__":{"admin":true}}'))).toMatch(/__proto__/);
    const push = clientFrames.push;
    expect(badFrame(decodeClientFrame(JSON.stringify({ ...push, chunk: { nonce, ciphertext, plaintext: 'x' } })))).toMatch(/^push frame: chunk: .*plaintext/);
    const chunks = serverFrames.chunks;
    const items = [{ docId: 'doc1', seq: 1, nonce, ciphertext, fromDevice: 'dev1', trusted: true }];
    expect(badFrame(decodeServerFrame(JSON.stringify({ ...chunks, items })))).toMatch(/^chunks frame: items\.0: .*trusted/);
  });

  it('names the field that is wrong', () => {
    const push = clientFrames.push;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...push, chunk: { nonce, ciphertext: ciphertext.slice(0, -2) + '+/' } }, /^push frame: chunk\.ciphertext: .*base64url/],
      [{ ...push, chunk: { nonce, ciphertext: ciphertext + 'abc' } }, /^push frame: chunk\.ciphertext: .*base64url/],
      [{ ...push, chunk: { nonce, ciphertext: ciphertext + '==' } }, /^push frame: chunk\.ciphertext: .*base64url/],
      // Same bytes as a valid encoding but with the unused trailing bits set: two spellings of one value.
      [{ ...push, chunk: { nonce, ciphertext: ciphertext.slice(0, -1) + 'B' } }, /^push frame: chunk\.ciphertext: .*base64url/],
      [{ ...push, chunk: { nonce, ciphertext: bytes(MAX_CHUNK_CIPHERTEXT_BYTES + 1) } }, /^push frame: chunk\.ciphertext: .*over/],
      [{ ...push, chunk: { nonce: bytes(12), ciphertext } }, /^push frame: chunk\.nonce: /],
      [{ ...push, docId: '../etc/passwd' }, /^push frame: docId: /],
      [{ ...push, docId: 'd'.repeat(65) }, /^push frame: docId: /],
      [{ ...clientFrames.pull, cursor: -1 }, /^pull frame: cursor: /],
      [{ ...clientFrames.pull, cursor: 1.5 }, /^pull frame: cursor: /],
      [{ ...clientFrames.pull, cursor: 2 ** 60 }, /^pull frame: cursor: /],
      [{ ...clientFrames.pull, limit: MAX_PULL_BATCH + 1 }, /^pull frame: limit: /],
      [{ ...clientFrames.pull, limit: 0 }, /^pull frame: limit: /],
      [{ ...clientFrames.snapshot, coversSeq: -5 }, /^snapshot frame: coversSeq: /],
      [{ ...clientFrames.auth, signature: bytes(200) }, /^auth frame: signature: /],
    ];
    for (const [json, pattern] of cases) expect(badFrame(decodeClientFrame(JSON.stringify(json)))).toMatch(pattern);

    const chunks = serverFrames.chunks;
    const item = { docId: 'doc1', seq: 1, nonce, ciphertext, fromDevice: 'dev1' };
    const serverCases: [Record<string, unknown>, RegExp][] = [
      [{ ...chunks, items: [item, { ...item, seq: -1 }] }, /^chunks frame: items\.1\.seq: /],
      [{ ...chunks, items: [{ ...item, seq: 0.5 }] }, /^chunks frame: items\.0\.seq: /],
      [{ ...chunks, items: Array.from({ length: MAX_PULL_BATCH + 1 }, () => item) }, /^chunks frame: items: /],
      [{ ...serverFrames.ack, seq: -1 }, /^ack frame: seq: /],
      [{ ...serverFrames.challenge, challenge: bytes(16) }, /^challenge frame: challenge: /],
      [{ ...serverFrames.challenge, relayOrigin: 'wss://relay.example.com/path' }, /^challenge frame: relayOrigin: /],
      [{ ...serverFrames.error, code: 'TEAPOT' }, /^error frame: code: /],
      [{ ...serverFrames.error, message: 'x'.repeat(MAX_ERROR_MESSAGE_LENGTH + 1) }, /^error frame: message: /],
    ];
    for (const [json, pattern] of serverCases) expect(badFrame(decodeServerFrame(JSON.stringify(json)))).toMatch(pattern);
  });

  it('keeps its messages short enough to send back in an error frame', () => {
    const key = 'k'.repeat(50_000);
    const message = badFrame(decodeClientFrame(JSON.stringify({ ...clientFrames.ping, [key]: 1 })));
    expect(message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_LENGTH);
    expect(decodeServerFrame(encodeFrame({ v, type: 'error', code: 'BAD_FRAME', message }))).toMatchObject({ ok: true });
  });
});

describe('decoding garbage', () => {
  const valid = [...Object.values(clientFrames), ...Object.values(serverFrames)].map((f) => JSON.stringify(f));
  const junk = ['{', '}', '[', ']', '"', ':', ',', 'null', 'true', '-1', '1e999', '\\u0000', 'v', 'type', '\u{1F600}', '\uD800'];

  function garbage(rand: () => number): string | Uint8Array {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    switch (Math.floor(rand() * 4)) {
      case 0:
        return Uint8Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256));
      case 1:
        return Array.from({ length: Math.floor(rand() * 40) }, () => pick(junk)).join('');
      case 2: {
        // A valid frame with a few characters changed: close to real, so it reaches the schema.
        const chars = [...pick(valid)];
        for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n; i++) {
          chars[Math.floor(rand() * chars.length)] = String.fromCharCode(Math.floor(rand() * 128));
        }
        return chars.join('');
      }
      default: {
        const depth = Math.floor(rand() * 200_000);
        return '{"v":1,"type":"chunks","items":' + '['.repeat(depth) + ']'.repeat(depth) + '}';
      }
    }
  }

  it('never throws on 200 random inputs (seed 0x5eed)', () => {
    const rand = seededRandom(0x5eed);
    for (let i = 0; i < 200; i++) {
      const input = garbage(rand);
      for (const decode of [decodeClientFrame, decodeServerFrame]) {
        let result: ReturnType<typeof decode> | undefined;
        expect(() => (result = decode(input)), `input #${i}`).not.toThrow();
        expect(result).toBeDefined();
        if (result && !result.ok) expect(['BAD_FRAME', 'UNSUPPORTED_VERSION', 'TOO_LARGE']).toContain(result.error.code);
      }
    }
  });
});

describe('base64url fields', () => {
  it('accept exactly what crypto can decode (seed 0xb64)', () => {
    const rand = seededRandom(0xb64);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < 2000; i++) {
      // Around the 16-byte minimum, and every length mod 4, so both the size and the trailing-bit rules are hit.
      const length = 18 + Math.floor(rand() * 12);
      const text = Array.from({ length }, () => alphabet[Math.floor(rand() * 64)]).join('');
      let decodes: boolean;
      try {
        decodes = fromBase64Url(text).length >= 16;
      } catch {
        decodes = false;
      }
      expect(ChunkCiphertext.safeParse(text).success, text).toBe(decodes);
    }
  });
});
