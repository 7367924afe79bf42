import type { z } from 'zod';
import { MAX_ERROR_MESSAGE_LENGTH, MAX_FRAME_BYTES, PROTOCOL_VERSION } from './limits.ts';
import { ClientFrame, ServerFrame } from './messages.ts';

/** Only the codes a decoder can produce; the rest come from the relay's handlers. */
export type FrameDecodeErrorCode = 'BAD_FRAME' | 'UNSUPPORTED_VERSION' | 'TOO_LARGE';

export interface FrameDecodeError {
  code: FrameDecodeErrorCode;
  message: string;
}

export type DecodeResult<F> = { ok: true; frame: F } | { ok: false; error: FrameDecodeError };

/** UTF-8 length without allocating: the size check must stay cheaper than the parse it guards. */
export function utf8ByteLength(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Messages quote peer input (key names), and the relay sends them back in error frames, which cap their length. */
function fail(code: FrameDecodeErrorCode, message: string): { ok: false; error: FrameDecodeError } {
  const capped = message.length > MAX_ERROR_MESSAGE_LENGTH ? message.slice(0, MAX_ERROR_MESSAGE_LENGTH - 1) + '…' : message;
  return { ok: false, error: { code, message: capped } };
}

const tooLarge = (size: string) => fail('TOO_LARGE', `frame is ${size} bytes; the limit is ${MAX_FRAME_BYTES}`);

function toText(raw: string | Uint8Array): { ok: true; text: string } | { ok: false; error: FrameDecodeError } {
  if (typeof raw !== 'string') {
    if (raw.byteLength > MAX_FRAME_BYTES) return tooLarge(String(raw.byteLength));
    try {
      return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(raw) };
    } catch {
      return fail('BAD_FRAME', 'frame is not valid UTF-8');
    }
  }
  // Every UTF-16 unit takes at least one UTF-8 byte, so this settles most oversized strings without a scan.
  if (raw.length > MAX_FRAME_BYTES) return tooLarge(`over ${MAX_FRAME_BYTES}`);
  const bytes = raw.length * 3 <= MAX_FRAME_BYTES ? 0 : utf8ByteLength(raw);
  if (bytes > MAX_FRAME_BYTES) return tooLarge(String(bytes));
  return { ok: true, text: raw };
}

function frameTypes(schema: typeof ClientFrame | typeof ServerFrame): ReadonlySet<string> {
  return new Set(schema.options.map((option) => option.shape.type.value));
}
const CLIENT_FRAME_TYPES = frameTypes(ClientFrame);
const SERVER_FRAME_TYPES = frameTypes(ServerFrame);

function decode<F>(raw: string | Uint8Array, schema: z.ZodType<F>, types: ReadonlySet<string>): DecodeResult<F> {
  const text = toText(raw);
  if (!text.ok) return text;
  let value: unknown;
  try {
    value = JSON.parse(text.text);
  } catch {
    return fail('BAD_FRAME', 'frame is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('BAD_FRAME', 'frame is not a JSON object');
  }
  // The version is checked before the shape: a newer peer's frames may differ in any field, and
  // "upgrade" is a more useful answer than "field x is wrong".
  const version = (value as Record<string, unknown>)['v'];
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    return fail('BAD_FRAME', `v: expected protocol version ${PROTOCOL_VERSION}`);
  }
  if (version !== PROTOCOL_VERSION) {
    return fail('UNSUPPORTED_VERSION', `protocol version ${version} is not supported; this side speaks version ${PROTOCOL_VERSION}`);
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const issue = parsed.error.issues[0];
  const path = issue?.path.length ? `${issue.path.map(String).join('.')}: ` : '';
  const type = (value as Record<string, unknown>)['type'];
  const where = typeof type === 'string' && types.has(type) ? `${type} frame: ` : '';
  return fail('BAD_FRAME', `${where}${path}${issue?.message ?? 'invalid'}`);
}

/** On the relay: a frame from a device. Never throws, so a hostile frame costs one error frame, not the socket handler. */
export function decodeClientFrame(raw: string | Uint8Array): DecodeResult<ClientFrame> {
  try {
    return decode(raw, ClientFrame, CLIENT_FRAME_TYPES);
  } catch {
    // Unreachable unless a schema has a bug; the promise not to throw is what callers build on.
    return fail('BAD_FRAME', 'frame could not be decoded');
  }
}

/** On a device: a frame from the relay. Never throws. */
export function decodeServerFrame(raw: string | Uint8Array): DecodeResult<ServerFrame> {
  try {
    return decode(raw, ServerFrame, SERVER_FRAME_TYPES);
  } catch {
    return fail('BAD_FRAME', 'frame could not be decoded');
  }
}

/** Senders check `utf8ByteLength` of the result against MAX_FRAME_BYTES when a frame can grow, such as a chunks batch. */
export function encodeFrame(frame: ClientFrame | ServerFrame): string {
  return JSON.stringify(frame);
}
