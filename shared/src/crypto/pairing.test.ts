import { describe, expect, it } from 'vitest';
import { newAccountKey } from './accountKeys.ts';
import { fromBase64Url, randomBytes, toBase64Url } from './bytes.ts';
import { newInvite, parseInviteCode, redeemProof, redeemProofHash, unwrapAccountKey, wrapAccountKey } from './pairing.ts';

const payload = { accountId: 'acct_123', relayUrl: 'https://relay.example' };

function badInput(code: string): void {
  expect(() => parseInviteCode(code)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
}

describe('pairing invite', () => {
  it('makes a short, grouped code and a QR payload', () => {
    const invite = newInvite();
    expect(fromBase64Url(invite.inviteId)).toHaveLength(16);
    expect(invite.secret).toHaveLength(16);
    expect(invite.code.length).toBeLessThanOrEqual(40);
    expect(invite.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$/);
    expect(invite.qrPayload).toBe(`lva-pair:${invite.code}`);
    expect(newInvite().inviteId).not.toBe(invite.inviteId);
  });

  it('parses the code back to the same invite id and secret', () => {
    const invite = newInvite();
    expect(parseInviteCode(invite.code)).toEqual({ inviteId: invite.inviteId, secret: invite.secret });
    expect(parseInviteCode(invite.qrPayload)).toEqual({ inviteId: invite.inviteId, secret: invite.secret });
  });

  it('tolerates case, spaces, missing dashes and look-alike letters', () => {
    const invite = newInvite();
    const expected = { inviteId: invite.inviteId, secret: invite.secret };
    const bare = invite.code.replaceAll('-', '');
    expect(parseInviteCode(invite.code.toLowerCase())).toEqual(expected);
    expect(parseInviteCode(bare)).toEqual(expected);
    expect(parseInviteCode(` ${bare.match(/.{1,4}/g)!.join(' ')}\n`)).toEqual(expected);
    expect(parseInviteCode(invite.code.replaceAll('0', 'o').replaceAll('1', 'l'))).toEqual(expected);
    expect(parseInviteCode(`LVA-PAIR:${invite.code.toLowerCase()}`)).toEqual(expected);
  });

  it('rejects typos, swaps, bad characters and wrong lengths', () => {
    const { code } = newInvite();
    const chars = [...code];
    const i = chars.findIndex((c) => c !== '-');
    chars[i] = chars[i] === 'A' ? 'B' : 'A';
    badInput(chars.join(''));
    const bare = code.replaceAll('-', '');
    const j = [...bare].findIndex((c, k) => c !== bare[k + 1]);
    badInput(bare.slice(0, j) + bare[j + 1]! + bare[j]! + bare.slice(j + 2));
    badInput(code.slice(0, -1));
    badInput(`${code}Z`);
    badInput(code.replace(/[0-9A-Z]/, 'U'));
    badInput(code.replace(/[0-9A-Z]/, '*'));
    badInput('');
  });

  it('wraps the account key and payload; unwraps with the secret from the code', () => {
    const invite = newInvite();
    const accountKey = newAccountKey();
    const wrapped = wrapAccountKey(invite.secret, invite.inviteId, accountKey, payload);
    const { inviteId, secret } = parseInviteCode(invite.code);
    expect(unwrapAccountKey(secret, inviteId, wrapped)).toEqual({ accountKey, payload });
  });

  it('does not unwrap with a wrong secret, another invite id or tampered bytes', () => {
    const invite = newInvite();
    const other = newInvite();
    const wrapped = wrapAccountKey(invite.secret, invite.inviteId, newAccountKey(), payload);
    const failed = (fn: () => unknown): void => {
      expect(fn).toThrow(expect.objectContaining({ code: 'DECRYPT_FAILED' }));
    };
    failed(() => unwrapAccountKey(other.secret, invite.inviteId, wrapped));
    failed(() => unwrapAccountKey(randomBytes(16), invite.inviteId, wrapped));
    failed(() => unwrapAccountKey(invite.secret, other.inviteId, wrapped));
    const tampered = wrapped.slice();
    tampered[tampered.length - 1]! ^= 0x80;
    failed(() => unwrapAccountKey(invite.secret, invite.inviteId, tampered));
  });

  it('rejects oversized payloads and malformed keys', () => {
    const invite = newInvite();
    expect(() => wrapAccountKey(invite.secret, invite.inviteId, newAccountKey(), 'x'.repeat(5000))).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    );
    expect(() => wrapAccountKey(invite.secret.subarray(0, 8), invite.inviteId, newAccountKey(), payload)).toThrow(
      expect.objectContaining({ code: 'BAD_KEY' }),
    );
    expect(() => wrapAccountKey(invite.secret, invite.inviteId, randomBytes(16), payload)).toThrow(
      expect.objectContaining({ code: 'BAD_KEY' }),
    );
  });

  it('derives a redeem proof from the code alone, unrelated to the invite id the relay sees', () => {
    const invite = newInvite();
    const typed = parseInviteCode(invite.code);
    const proof = redeemProof(typed.secret);
    expect(proof).toEqual(redeemProof(invite.secret));
    expect(proof).toHaveLength(32);
    expect(toBase64Url(proof)).not.toBe(invite.inviteId);
    expect(redeemProofHash(proof)).not.toEqual(proof);
    expect(redeemProofHash(proof)).toEqual(redeemProofHash(redeemProof(invite.secret)));
    expect(redeemProof(newInvite().secret)).not.toEqual(proof);
  });
});
