import { describe, expect, it } from 'vitest';
import { randomBytes, utf8Decode, utf8Encode } from './bytes.ts';
import { newInboxKeyPair, openInbox, sealToInbox } from './inbox.ts';

const message = utf8Encode('voicemail transcript: call me back');

function decryptFailed(fn: () => unknown): void {
  expect(fn).toThrow(expect.objectContaining({ code: 'DECRYPT_FAILED' }));
}

describe('inbox sealed box', () => {
  it('opens with the recipient key pair; output is ephemeral key ‖ nonce ‖ ciphertext', () => {
    const inbox = newInboxKeyPair();
    const sealed = sealToInbox(inbox.publicKey, message);
    expect(sealed).toHaveLength(32 + 24 + message.length + 16);
    expect(utf8Decode(openInbox(inbox, sealed))).toBe('voicemail transcript: call me back');
    expect(sealToInbox(inbox.publicKey, message)).not.toEqual(sealed);
  });

  it('does not open with another key pair', () => {
    const sealed = sealToInbox(newInboxKeyPair().publicKey, message);
    decryptFailed(() => openInbox(newInboxKeyPair(), sealed));
  });

  it('does not open when the public key half of the pair is wrong', () => {
    const inbox = newInboxKeyPair();
    const sealed = sealToInbox(inbox.publicKey, message);
    decryptFailed(() => openInbox({ secretKey: inbox.secretKey, publicKey: newInboxKeyPair().publicKey }, sealed));
  });

  it('fails on any single-bit change and on truncation', () => {
    const inbox = newInboxKeyPair();
    const sealed = sealToInbox(inbox.publicKey, message);
    for (let i = 0; i < sealed.length; i++) {
      const tampered = sealed.slice();
      tampered[i]! ^= 1 << (i % 8);
      decryptFailed(() => openInbox(inbox, tampered));
    }
    decryptFailed(() => openInbox(inbox, sealed.subarray(0, 60)));
  });

  it('refuses a low-order recipient key instead of encrypting under a known secret', () => {
    expect(() => sealToInbox(new Uint8Array(32), message)).toThrow(expect.objectContaining({ code: 'BAD_KEY' }));
    expect(() => sealToInbox(randomBytes(31), message)).toThrow(expect.objectContaining({ code: 'BAD_KEY' }));
  });
});
