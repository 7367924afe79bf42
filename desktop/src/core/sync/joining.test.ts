import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// A test may start the real relay; the desktop code itself never imports it.
import { startRelay, type RelayFixture } from '../../../test/relayFixture.ts';
import { Core } from '../Core.ts';
import { dataDirLayout } from '../DataDir.ts';
import { finishJoin } from './Joining.ts';
import { createInvite, parsePairingInput, pairingLink, redeemInvite } from './Pairing.ts';
import { docStoreTarget, SyncEngine } from './SyncEngine.ts';
import { initSync, readSyncKeys } from './SyncKeys.ts';

describe('joining an account', () => {
  let relay: RelayFixture;

  beforeAll(async () => {
    relay = await startRelay('lva-join-');
  });

  afterAll(() => relay.close());

  it('reads the relay from a scanned link, and a code alone needs one given', () => {
    const link = pairingLink('ABCD-EFGH', 'https://relay.example:8443/');
    expect(parsePairingInput(link)).toEqual({ code: 'lva-pair:ABCD-EFGH', relayUrl: 'https://relay.example:8443/' });
    expect(parsePairingInput('  ABCD-EFGH ')).toEqual({ code: 'ABCD-EFGH' });
  });

  it('survives the relay going away during the first sync: nothing half-made, and the next try finishes', async () => {
    const dirA = path.join(relay.root, 'a');
    const dirB = path.join(relay.root, 'b');
    const a = await Core.open({ dataDir: dirA, background: false, deviceName: 'laptop' });
    await initSync(dirA, relay.url);
    const made = await a.capture({ text: 'the tide tables for next week' });
    await new SyncEngine(dirA, docStoreTarget(await a.documents())).syncOnce();
    const invite = await createInvite(dirA);
    // The QR form carries the relay, so no URL is needed beside it.
    const keys = await redeemInvite(dirB, invite.link, { deviceName: 'tablet' });
    expect(keys.relayUrl).toBe(relay.url);
    expect(readSyncKeys(dirB)?.joining).toEqual({ accountUrl: (await a.documents()).device.accountUrl });

    const port = Number(new URL(relay.url).port);
    await relay.stopServer();
    await expect(finishJoin(dirB)).rejects.toThrow(/could not connect to the relay/);
    const layout = dataDirLayout(dirB);
    // Not yet a device: Core cannot open it half-joined, and the lock was released.
    expect(fs.existsSync(layout.device)).toBe(false);
    expect(fs.existsSync(layout.lock)).toBe(false);
    expect(readSyncKeys(dirB)?.joining).toBeDefined();

    await relay.startServer(port);
    const device = await finishJoin(dirB);
    expect(device.deviceName).toBe('tablet');
    expect(readSyncKeys(dirB)?.joining).toBeUndefined();
    const b = await Core.open({ dataDir: dirB, background: false });
    expect((await b.get(made.id))?.text).toBe(made.text);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses to pair into a data dir that is already a device', async () => {
    const dirA = path.join(relay.root, 'solo');
    const a = await Core.open({ dataDir: dirA, background: false, deviceName: 'laptop' });
    await initSync(dirA, relay.url);
    const invite = await createInvite(dirA);
    await expect(redeemInvite(dirA, invite.code, { relayUrl: relay.url, deviceName: 'again' })).rejects.toThrow(/already belongs to a device/);
    await a.close();
  });
});
