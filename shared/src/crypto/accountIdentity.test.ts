import { describe, expect, it } from 'vitest';
import { accountIdFor, inboxKeyPairFor, recoveryKeyPair, recoveryMessage, signRecovery } from './accountIdentity.ts';
import { openInbox, sealToInbox } from './inbox.ts';
import { newAccountKey } from './accountKeys.ts';
import { verifySignature } from './requestSigning.ts';

describe('account identity from the account key', () => {
  it('derives the same account id and recovery key from the same key, and different ones from another', () => {
    const key = newAccountKey();
    expect(accountIdFor(key)).toBe(accountIdFor(Uint8Array.from(key)));
    expect(accountIdFor(key)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(recoveryKeyPair(key).publicKey).toEqual(recoveryKeyPair(key).publicKey);
    const other = newAccountKey();
    expect(accountIdFor(other)).not.toBe(accountIdFor(key));
    expect(recoveryKeyPair(other).publicKey).not.toEqual(recoveryKeyPair(key).publicKey);
  });

  it('signs a recovery bound to host, account, device, key and time', () => {
    const key = newAccountKey();
    const devicePublic = new Uint8Array(32).fill(7);
    const message = recoveryMessage('relay.example:8787', accountIdFor(key), 'dev1', devicePublic, 1000);
    const signature = signRecovery(key, message);
    const publicKey = recoveryKeyPair(key).publicKey;
    expect(verifySignature(publicKey, message, signature)).toBe(true);
    // Host case does not matter; everything else does.
    expect(verifySignature(publicKey, recoveryMessage('RELAY.example:8787', accountIdFor(key), 'dev1', devicePublic, 1000), signature)).toBe(true);
    for (const changed of [
      recoveryMessage('other.example', accountIdFor(key), 'dev1', devicePublic, 1000),
      recoveryMessage('relay.example:8787', 'someone-else', 'dev1', devicePublic, 1000),
      recoveryMessage('relay.example:8787', accountIdFor(key), 'dev2', devicePublic, 1000),
      recoveryMessage('relay.example:8787', accountIdFor(key), 'dev1', new Uint8Array(32).fill(8), 1000),
      recoveryMessage('relay.example:8787', accountIdFor(key), 'dev1', devicePublic, 1001),
    ]) {
      expect(verifySignature(publicKey, changed, signature)).toBe(false);
    }
    expect(verifySignature(recoveryKeyPair(newAccountKey()).publicKey, message, signature)).toBe(false);
  });

  it('derives an inbox key pair every device of the account shares, which opens what is sealed to it', () => {
    const key = newAccountKey();
    const inbox = inboxKeyPairFor(key);
    expect(inboxKeyPairFor(Uint8Array.from(key)).publicKey).toEqual(inbox.publicKey);
    expect(inboxKeyPairFor(newAccountKey()).publicKey).not.toEqual(inbox.publicKey);
    const sealed = sealToInbox(inbox.publicKey, new TextEncoder().encode('voicemail'));
    expect(new TextDecoder().decode(openInbox(inboxKeyPairFor(key), sealed))).toBe('voicemail');
  });
});
