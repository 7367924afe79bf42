import { describe, expect, it } from 'vitest';
import { newDeviceKeyPair } from './deviceKeys.ts';
import { AUTH_HEADERS, signRequest, verifyRequest, type SignedRequestParts } from './requestSigning.ts';

describe('device-signed HTTP requests', () => {
  const pair = newDeviceKeyPair();
  const signer = { accountId: 'acct', deviceId: 'dev1', secretKey: pair.secretKey };
  const body = new TextEncoder().encode('{"name":"phone"}');
  const headers = signRequest(signer, { host: 'Relay.Example:8787', method: 'patch', path: '/v1/devices/dev2', body, time: 5000 });
  const parts: SignedRequestParts = {
    host: 'relay.example:8787',
    method: 'PATCH',
    path: '/v1/devices/dev2',
    accountId: 'acct',
    deviceId: 'dev1',
    time: 5000,
    nonce: headers[AUTH_HEADERS.nonce]!,
    body,
  };

  it('verifies with the headers it produced, and fresh nonces make each signature unique', () => {
    expect(headers[AUTH_HEADERS.account]).toBe('acct');
    expect(headers[AUTH_HEADERS.time]).toBe('5000');
    expect(verifyRequest(pair.publicKey, parts, headers[AUTH_HEADERS.signature]!)).toBe(true);
    const again = signRequest(signer, { host: 'relay.example:8787', method: 'PATCH', path: '/v1/devices/dev2', body, time: 5000 });
    expect(again[AUTH_HEADERS.nonce]).not.toBe(headers[AUTH_HEADERS.nonce]);
  });

  it('fails when any signed part changes, for another key, and for garbage', () => {
    const signature = headers[AUTH_HEADERS.signature]!;
    for (const change of [
      { host: 'evil.example:8787' },
      { method: 'POST' },
      { path: '/v1/devices/dev3' },
      { accountId: 'other' },
      { deviceId: 'dev9' },
      { time: 5001 },
      { nonce: 'AAAAAAAAAAAAAAAAAAAAAA' },
      { body: new TextEncoder().encode('{"name":"evil"}') },
    ]) {
      expect(verifyRequest(pair.publicKey, { ...parts, ...change }, signature), JSON.stringify(Object.keys(change))).toBe(false);
    }
    expect(verifyRequest(newDeviceKeyPair().publicKey, parts, signature)).toBe(false);
    expect(verifyRequest(pair.publicKey, parts, 'not base64!')).toBe(false);
    expect(verifyRequest(new Uint8Array(3), parts, signature)).toBe(false);
  });
});
