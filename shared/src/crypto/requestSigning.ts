import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { encodeFields, fromBase64Url, randomBytes, toBase64Url } from './bytes.ts';
import { requireKey } from './errors.ts';

export const REQUEST_AUTH_LABEL = 'lva-relay-request-v1';

/** Header names of a device-signed HTTP request to the relay. */
export const AUTH_HEADERS = {
  account: 'x-lva-account',
  device: 'x-lva-device',
  time: 'x-lva-time',
  nonce: 'x-lva-nonce',
  signature: 'x-lva-signature',
} as const;

/** A signature older or newer than this is refused, which bounds how long the relay remembers nonces. */
export const REQUEST_MAX_SKEW_MS = 5 * 60 * 1000;

export interface SignedRequestParts {
  /** host[:port] the request is addressed to, lower case: a signature for one relay is useless at another. */
  readonly host: string;
  readonly method: string;
  /** Path and query as sent, e.g. /v1/devices/abc/revoke. */
  readonly path: string;
  readonly accountId: string;
  readonly deviceId: string;
  readonly time: number;
  readonly nonce: string;
  readonly body: Uint8Array;
}

/** The exact bytes signed; the body enters as its SHA-256 so a large blob is hashed once, not copied. */
export function requestMessage(parts: SignedRequestParts): Uint8Array {
  return encodeFields(
    REQUEST_AUTH_LABEL,
    parts.host.toLowerCase(),
    parts.method.toUpperCase(),
    parts.path,
    parts.accountId,
    parts.deviceId,
    String(parts.time),
    parts.nonce,
    sha256(parts.body),
  );
}

export interface RequestSigner {
  readonly accountId: string;
  readonly deviceId: string;
  readonly secretKey: Uint8Array;
}

/** The headers that authenticate one request as this device. */
export function signRequest(
  signer: RequestSigner,
  request: { host: string; method: string; path: string; body?: Uint8Array; time?: number },
): Record<string, string> {
  requireKey(signer.secretKey, 32, 'device secret key');
  const time = request.time ?? Date.now();
  const nonce = toBase64Url(randomBytes(16));
  const message = requestMessage({
    host: request.host,
    method: request.method,
    path: request.path,
    accountId: signer.accountId,
    deviceId: signer.deviceId,
    time,
    nonce,
    body: request.body ?? new Uint8Array(0),
  });
  return {
    [AUTH_HEADERS.account]: signer.accountId,
    [AUTH_HEADERS.device]: signer.deviceId,
    [AUTH_HEADERS.time]: String(time),
    [AUTH_HEADERS.nonce]: nonce,
    [AUTH_HEADERS.signature]: toBase64Url(ed25519.sign(message, signer.secretKey)),
  };
}

/** Untrusted input throughout, so every malformed piece is just `false`. */
export function verifyRequest(publicKey: Uint8Array, parts: SignedRequestParts, signature: string): boolean {
  try {
    return ed25519.verify(fromBase64Url(signature), requestMessage(parts), publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Verifies an Ed25519 signature over arbitrary bytes; false on any malformed input. */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
