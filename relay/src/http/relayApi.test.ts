import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AUTH_HEADERS,
  DeviceList,
  newAccountKey,
  newDeviceKeyPair,
  newInvite,
  inboxKeyPairFor,
  parseInviteCode,
  redeemProof,
  redeemProofHash,
  randomBytes,
  RedeemInviteResponse,
  recoveryKeyPair,
  recoveryMessage,
  REQUEST_MAX_SKEW_MS,
  signRecovery,
  signRequest,
  toBase64Url,
  fromBase64Url,
  unwrapAccountKey,
  utf8Encode,
  wrapAccountKey,
} from '@lva/shared';
import type { DeviceKeyPair } from '@lva/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { relayConfig } from '../config.ts';
import { SqliteRelayStorage } from '../storage/SqliteRelayStorage.ts';
import { SyncTestClient } from '../sync/syncTestClient.ts';
import { createRelayLogger } from './logger.ts';
import { createRelayServer } from './server.ts';
import type { RelayServer } from './server.ts';

interface TestDevice {
  readonly accountId: string;
  readonly deviceId: string;
  readonly keys: DeviceKeyPair;
}

interface SignedOptions {
  /** JSON unless bytes. */
  readonly body?: unknown;
  readonly time?: number;
  /** Sign these bytes instead of the body sent. */
  readonly signedBody?: Uint8Array;
  readonly signAs?: Uint8Array;
  readonly headers?: Record<string, string>;
}

const unauthenticated = { error: { code: 'unauthenticated', message: expect.any(String) as string } };

const proofOf = (secret: Uint8Array): string => toBase64Url(redeemProof(secret));
const proofHashOf = (secret: Uint8Array): string => toBase64Url(redeemProofHash(redeemProof(secret)));

describe('relay HTTP API', () => {
  let dataDir: string;
  let storage: SqliteRelayStorage;
  let server: RelayServer;
  let baseUrl: string;
  let host: string;
  const clients: SyncTestClient[] = [];

  async function start(flags: string[] = []): Promise<void> {
    const config = relayConfig(['--port', '0', '--data-dir', dataDir, ...flags], {});
    server = createRelayServer({ storage, logger: createRelayLogger({ level: 'silent' }), config });
    baseUrl = await server.listen();
    host = new URL(baseUrl).host;
  }

  function postJson(path: string, body: unknown): Promise<Response> {
    return fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  /** A new account with its first device; the account key stands in for the recovery phrase. */
  async function register(accountId: string, deviceId = `${accountId}-d1`): Promise<{ device: TestDevice; accountKey: Uint8Array }> {
    const accountKey = newAccountKey();
    const keys = newDeviceKeyPair();
    const response = await postJson('/v1/accounts', {
      accountId,
      device: { id: deviceId, name: 'laptop', publicKey: toBase64Url(keys.publicKey) },
      recoveryPublicKey: toBase64Url(recoveryKeyPair(accountKey).publicKey),
      inboxPublicKey: toBase64Url(inboxKeyPairFor(accountKey).publicKey),
    });
    expect(response.status).toBe(201);
    return { device: { accountId, deviceId, keys }, accountKey };
  }

  function signed(device: TestDevice, method: string, path: string, options: SignedOptions = {}): Promise<Response> {
    const body =
      options.body === undefined ? undefined : options.body instanceof Uint8Array ? options.body : utf8Encode(JSON.stringify(options.body));
    const headers = signRequest(
      { accountId: device.accountId, deviceId: device.deviceId, secretKey: options.signAs ?? device.keys.secretKey },
      { host, method, path, ...((options.signedBody ?? body) ? { body: options.signedBody ?? body } : {}), ...(options.time === undefined ? {} : { time: options.time }) },
    );
    if (body) headers['content-type'] = options.body instanceof Uint8Array ? 'application/octet-stream' : 'application/json';
    return fetch(`${baseUrl}${path}`, { method, headers: { ...headers, ...options.headers }, ...(body ? { body } : {}) });
  }

  async function deviceIds(device: TestDevice): Promise<string[]> {
    const response = await signed(device, 'GET', '/v1/devices');
    expect(response.status).toBe(200);
    return DeviceList.parse(await response.json()).devices.map((d) => d.id);
  }

  /** Pairs a new device into `inviter`'s account the way two devices would. */
  async function pair(inviter: TestDevice, accountKey: Uint8Array, deviceId: string): Promise<TestDevice> {
    const invite = newInvite();
    const wrapped = wrapAccountKey(invite.secret, invite.inviteId, accountKey, { relay: baseUrl });
    expect((await signed(inviter, 'POST', '/v1/invites', { body: { inviteId: invite.inviteId, wrapped: toBase64Url(wrapped), proofHash: proofHashOf(invite.secret) } })).status).toBe(201);
    const keys = newDeviceKeyPair();
    const { inviteId, secret } = parseInviteCode(invite.code);
    const redeemed = await postJson(`/v1/invites/${inviteId}/redeem`, { device: { id: deviceId, name: 'phone', publicKey: toBase64Url(keys.publicKey) }, proof: proofOf(secret) });
    expect(redeemed.status).toBe(201);
    return { accountId: inviter.accountId, deviceId, keys };
  }

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lva-relay-api-'));
    storage = SqliteRelayStorage.open(dataDir);
    await start();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server.close();
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  describe('accounts', () => {
    it('stores the recovery and inbox keys and refuses accounts without usable ones', async () => {
      const { accountKey } = await register('acctA');
      const stored = await storage.getAccount('acctA');
      expect(stored?.recoveryPublicKey).toEqual(recoveryKeyPair(accountKey).publicKey);
      expect(stored?.inboxPublicKey).toEqual(inboxKeyPairFor(accountKey).publicKey);

      const device = { id: 'd1', name: 'laptop', publicKey: toBase64Url(newDeviceKeyPair().publicKey) };
      const key = toBase64Url(newDeviceKeyPair().publicKey);
      const missing = await postJson('/v1/accounts', { accountId: 'acctB', device, inboxPublicKey: key });
      expect(missing.status).toBe(400);
      expect(await missing.json()).toMatchObject({ error: { code: 'invalid-body', message: expect.stringContaining('recoveryPublicKey') as string } });
      const notEd25519 = await postJson('/v1/accounts', { accountId: 'acctB', device, recoveryPublicKey: toBase64Url(randomBytes(33)), inboxPublicKey: key });
      expect(notEd25519.status).toBe(400);
      const noInbox = await postJson('/v1/accounts', { accountId: 'acctB', device, recoveryPublicKey: key });
      expect(noInbox.status).toBe(400);
      expect(await noInbox.json()).toMatchObject({ error: { code: 'invalid-body', message: expect.stringContaining('inboxPublicKey') as string } });
      expect(await storage.getAccount('acctB')).toBeUndefined();
    });

    it('rate-limits sign-ups per address', async () => {
      await server.close();
      await start(['--signups-per-hour', '2']);
      await register('acctA');
      await register('acctB');
      const device = { id: 'd1', name: 'laptop', publicKey: toBase64Url(newDeviceKeyPair().publicKey) };
      const key = toBase64Url(newDeviceKeyPair().publicKey);
      const third = await postJson('/v1/accounts', { accountId: 'acctC', device, recoveryPublicKey: key, inboxPublicKey: key });
      expect(third.status).toBe(429);
      expect(await third.json()).toMatchObject({ error: { code: 'rate-limited' } });
      expect(await storage.getAccount('acctC')).toBeUndefined();
    });

    it('answers malformed JSON with 400 in the error shape on every JSON route', async () => {
      const { device } = await register('acctA');
      const raw = (path: string, headers: Record<string, string> = {}) =>
        fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"oops' });
      for (const path of ['/v1/accounts', '/v1/invites/AAAAAAAAAAAAAAAAAAAAAA/redeem', '/v1/accounts/acctA/recover']) {
        const response = await raw(path);
        expect(response.status, path).toBe(400);
        expect(await response.json()).toEqual({ error: { code: 'bad-request', message: 'the body is not valid JSON' } });
      }
      const signedBadJson = await signed(device, 'POST', '/v1/invites', { body: utf8Encode('{"oops'), headers: { 'content-type': 'application/json' } });
      expect(signedBadJson.status).toBe(400);
      expect(await signedBadJson.json()).toMatchObject({ error: { code: 'bad-request' } });
      const wrongType = await fetch(`${baseUrl}/v1/accounts`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
      expect(wrongType.status).toBe(415);
      expect(await wrongType.json()).toMatchObject({ error: { code: 'unsupported-media-type' } });
    });
  });

  describe('device request authentication', () => {
    let a: TestDevice;

    beforeEach(async () => {
      ({ device: a } = await register('acctA', 'a1'));
    });

    it('admits a signed request from a current device', async () => {
      const response = await signed(a, 'GET', '/v1/devices');
      expect(response.status).toBe(200);
      expect(DeviceList.parse(await response.json())).toEqual({ devices: [{ id: 'a1', name: 'laptop', createdAt: expect.any(Number) as number }] });
    });

    it('refuses a missing signature, a wrong key and an unknown device with one answer', async () => {
      const bare = await fetch(`${baseUrl}/v1/devices`);
      expect(bare.status).toBe(401);
      expect(await bare.json()).toMatchObject({ error: { code: 'unauthenticated', message: expect.stringContaining(AUTH_HEADERS.signature) as string } });

      const wrongKey = await signed(a, 'GET', '/v1/devices', { signAs: newDeviceKeyPair().secretKey });
      const unknownDevice = await signed({ ...a, deviceId: 'nobody' }, 'GET', '/v1/devices');
      const unknownAccount = await signed({ ...a, accountId: 'nobody' }, 'GET', '/v1/devices');
      const bodies = [];
      for (const response of [wrongKey, unknownDevice, unknownAccount]) {
        expect(response.status).toBe(401);
        bodies.push(await response.json());
      }
      expect(bodies[0]).toMatchObject(unauthenticated);
      expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    });

    it('refuses a signature for another path, method or host', async () => {
      const headers = signRequest({ accountId: 'acctA', deviceId: 'a1', secretKey: a.keys.secretKey }, { host, method: 'GET', path: '/v1/devices?x=1' });
      expect((await fetch(`${baseUrl}/v1/devices`, { headers })).status).toBe(401);
      const otherHost = signRequest({ accountId: 'acctA', deviceId: 'a1', secretKey: a.keys.secretKey }, { host: 'relay.example.com', method: 'GET', path: '/v1/devices' });
      expect((await fetch(`${baseUrl}/v1/devices`, { headers: otherHost })).status).toBe(401);
      const withQuery = signRequest({ accountId: 'acctA', deviceId: 'a1', secretKey: a.keys.secretKey }, { host, method: 'GET', path: '/v1/devices?x=1' });
      expect((await fetch(`${baseUrl}/v1/devices?x=1`, { headers: withQuery })).status).toBe(200);
    });

    it('binds signatures to the configured public origin when there is one', async () => {
      await server.close();
      await start(['--public-origin', 'wss://relay.example.com']);
      const headers = signRequest({ accountId: 'acctA', deviceId: 'a1', secretKey: a.keys.secretKey }, { host: 'relay.example.com', method: 'GET', path: '/v1/devices' });
      expect((await fetch(`${baseUrl}/v1/devices`, { headers })).status).toBe(200);
      expect((await signed(a, 'GET', '/v1/devices')).status).toBe(401);
    });

    it('refuses a body other than the one signed', async () => {
      const invite = newInvite();
      const body = { inviteId: invite.inviteId, wrapped: toBase64Url(randomBytes(80)), proofHash: proofHashOf(invite.secret) };
      const tampered = await signed(a, 'POST', '/v1/invites', {
        body,
        signedBody: utf8Encode(JSON.stringify({ ...body, ttlSeconds: 60 })),
      });
      expect(tampered.status).toBe(401);
      expect(await tampered.json()).toMatchObject(unauthenticated);
      expect(await storage.takeInvite(invite.inviteId, Date.now(), redeemProofHash(redeemProof(invite.secret)))).toBeUndefined();
    });

    it('refuses a stale or future time with a message a person can act on', async () => {
      for (const offset of [-REQUEST_MAX_SKEW_MS - 60_000, REQUEST_MAX_SKEW_MS + 60_000]) {
        const response = await signed(a, 'GET', '/v1/devices', { time: Date.now() + offset });
        expect(response.status).toBe(401);
        const { error } = (await response.json()) as { error: { code: string; message: string } };
        expect(error.code).toBe('unauthenticated');
        expect(error.message).toMatch(/relay's clock/);
        expect(error.message).toMatch(offset < 0 ? /behind/ : /ahead of/);
      }
      expect((await signed(a, 'GET', '/v1/devices', { time: Date.now() - REQUEST_MAX_SKEW_MS + 10_000 })).status).toBe(200);
    });

    it('refuses a replayed request, also on another route', async () => {
      const headers = signRequest({ accountId: 'acctA', deviceId: 'a1', secretKey: a.keys.secretKey }, { host, method: 'GET', path: '/v1/devices' });
      expect((await fetch(`${baseUrl}/v1/devices`, { headers })).status).toBe(200);
      const replay = await fetch(`${baseUrl}/v1/devices`, { headers });
      expect(replay.status).toBe(401);
      expect(await replay.json()).toMatchObject({ error: { code: 'unauthenticated', message: expect.stringContaining('already used') as string } });
    });

    it('counts the API routes by pattern in the metrics', async () => {
      await signed(a, 'GET', '/v1/devices');
      await signed(a, 'GET', '/v1/blobs/missing');
      await fetch(`${baseUrl}/v1/devices`);
      const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
      expect(metrics).toContain('lva_relay_http_requests_total{route="/v1/devices",status="200"} 1');
      expect(metrics).toContain('lva_relay_http_requests_total{route="/v1/devices",status="401"} 1');
      expect(metrics).toContain('lva_relay_http_requests_total{route="/v1/blobs/:blobId",status="404"} 1');
      expect(metrics).toContain('lva_relay_http_requests_total{route="/v1/accounts",status="201"} 1');
    });
  });

  describe('pairing', () => {
    it('hands the wrapped key to the device with the code, once, and lists it afterwards', async () => {
      const { device: a1, accountKey } = await register('acctA', 'a1');
      const invite = newInvite();
      const payload = { relay: baseUrl, name: 'acct A' };
      const wrapped = wrapAccountKey(invite.secret, invite.inviteId, accountKey, payload);

      const created = await signed(a1, 'POST', '/v1/invites', { body: { inviteId: invite.inviteId, wrapped: toBase64Url(wrapped), proofHash: proofHashOf(invite.secret), ttlSeconds: 60 } });
      expect(created.status).toBe(201);
      const { expiresAt } = (await created.json()) as { inviteId: string; expiresAt: number };
      expect(expiresAt).toBeGreaterThan(Date.now() + 50_000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);

      // The joining device knows only what the person typed.
      const joining = newDeviceKeyPair();
      const { inviteId, secret } = parseInviteCode(invite.code.toLowerCase());
      const redeem = (proof = proofOf(secret)) => postJson(`/v1/invites/${inviteId}/redeem`, { device: { id: 'a2', name: 'phone', publicKey: toBase64Url(joining.publicKey) }, proof });
      // Knowing the invite id is not enough: the relay's database and logs have it, but not the code.
      const hijack = await redeem(toBase64Url(randomBytes(32)));
      expect(hijack.status).toBe(404);
      expect(await hijack.json()).toMatchObject({ error: { code: 'invite-not-found' } });
      const redeemed = await redeem();
      expect(redeemed.status).toBe(201);
      const answer = RedeemInviteResponse.parse(await redeemed.json());
      expect(answer).toMatchObject({ accountId: 'acctA', device: { id: 'a2', name: 'phone' } });
      const unwrapped = unwrapAccountKey(secret, inviteId, fromBase64Url(answer.wrapped));
      expect(unwrapped.accountKey).toEqual(accountKey);
      expect(unwrapped.payload).toEqual(payload);

      expect(await deviceIds(a1)).toEqual(['a1', 'a2']);
      // The new device can sign requests at once.
      expect(await deviceIds({ accountId: 'acctA', deviceId: 'a2', keys: joining })).toEqual(['a1', 'a2']);

      const again = await redeem();
      expect(again.status).toBe(404);
      expect(await again.json()).toMatchObject({ error: { code: 'invite-not-found', message: expect.stringContaining('create a new one') as string } });
    });

    it('does not hand out an expired invite', async () => {
      const { accountKey } = await register('acctA', 'a1');
      const invite = newInvite();
      await storage.putInvite(invite.inviteId, 'acctA', wrapAccountKey(invite.secret, invite.inviteId, accountKey, null), Date.now() - 1000, redeemProofHash(redeemProof(invite.secret)));
      const response = await postJson(`/v1/invites/${invite.inviteId}/redeem`, { device: { id: 'a2', name: 'phone', publicKey: toBase64Url(newDeviceKeyPair().publicKey) }, proof: proofOf(invite.secret) });
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: 'invite-not-found' } });
      expect((await storage.listDevices('acctA')).map((d) => d.id)).toEqual(['a1']);
    });

    it('refuses bad invites and joining keys without using the invite up', async () => {
      const { device: a1, accountKey } = await register('acctA', 'a1');
      const tooShort = await signed(a1, 'POST', '/v1/invites', { body: { inviteId: newInvite().inviteId, wrapped: 'AAAA', proofHash: proofHashOf(randomBytes(16)), ttlSeconds: 5 } });
      expect(tooShort.status).toBe(400);
      expect(await tooShort.json()).toMatchObject({ error: { code: 'invalid-body', message: expect.stringContaining('ttlSeconds') as string } });

      const invite = newInvite();
      const body = { inviteId: invite.inviteId, wrapped: toBase64Url(wrapAccountKey(invite.secret, invite.inviteId, accountKey, null)), proofHash: proofHashOf(invite.secret) };
      expect((await signed(a1, 'POST', '/v1/invites', { body })).status).toBe(201);
      const duplicate = await signed(a1, 'POST', '/v1/invites', { body });
      expect(duplicate.status).toBe(409);
      expect(await duplicate.json()).toMatchObject({ error: { code: 'invite-exists' } });

      const shortKey = await postJson(`/v1/invites/${invite.inviteId}/redeem`, { device: { id: 'a2', name: 'phone', publicKey: toBase64Url(randomBytes(40)) }, proof: proofOf(invite.secret) });
      expect(shortKey.status).toBe(400);
      expect(await shortKey.json()).toMatchObject({ error: { code: 'invalid-body', message: expect.stringContaining('Ed25519') as string } });
      const existingId = await postJson(`/v1/invites/${invite.inviteId}/redeem`, { device: { id: 'a1', name: 'phone', publicKey: toBase64Url(newDeviceKeyPair().publicKey) }, proof: proofOf(invite.secret) });
      expect(existingId.status).toBe(409);
    });

    it('rate-limits redeem attempts per address', async () => {
      const device = { id: 'x1', name: 'phone', publicKey: toBase64Url(newDeviceKeyPair().publicKey) };
      const statuses: number[] = [];
      let limited: Response | undefined;
      for (let i = 0; i < 12; i++) {
        const response = await postJson(`/v1/invites/${newInvite().inviteId}/redeem`, { device, proof: proofOf(randomBytes(16)) });
        statuses.push(response.status);
        if (response.status === 429) limited = response;
      }
      expect(statuses.slice(0, 10)).toEqual(Array<number>(10).fill(404));
      expect(statuses.slice(10)).toEqual([429, 429]);
      expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await limited?.json()).toMatchObject({ error: { code: 'rate-limited' } });
    });
  });

  describe('devices', () => {
    let a1: TestDevice;
    let a2: TestDevice;
    let b1: TestDevice;

    beforeEach(async () => {
      const a = await register('acctA', 'a1');
      a1 = a.device;
      a2 = await pair(a1, a.accountKey, 'a2');
      ({ device: b1 } = await register('acctB', 'b1'));
    });

    it('renames a device of the account', async () => {
      const renamed = await signed(a1, 'PATCH', '/v1/devices/a2', { body: { name: '  Work phone ' } });
      expect(renamed.status).toBe(200);
      expect(await renamed.json()).toMatchObject({ id: 'a2', name: 'Work phone' });
      expect((await storage.getDevice('acctA', 'a2'))?.name).toBe('Work phone');
      const empty = await signed(a1, 'PATCH', '/v1/devices/a2', { body: { name: '  ' } });
      expect(empty.status).toBe(400);
      expect((await signed(a1, 'PATCH', '/v1/devices/zz', { body: { name: 'x' } })).status).toBe(404);
    });

    it('revokes a device: listed with revokedAt, its requests refused and its sync socket closed', async () => {
      const socket = await SyncTestClient.connect(`${baseUrl.replace(/^http/, 'ws')}/v1/sync`);
      clients.push(socket);
      expect(await socket.authenticate('acctA', 'a2', a2.keys.secretKey)).toMatchObject({ type: 'welcome' });
      expect((await signed(a2, 'GET', '/v1/devices')).status).toBe(200);

      const before = Date.now();
      const revoked = await signed(a1, 'POST', '/v1/devices/a2/revoke');
      expect(revoked.status).toBe(200);
      const info = (await revoked.json()) as { id: string; revokedAt: number };
      expect(info).toMatchObject({ id: 'a2', name: 'phone' });
      expect(info.revokedAt).toBeGreaterThanOrEqual(before);
      expect(await socket.closed).toBe(4401);
      expect(server.sync.sessions).toBe(0);

      const list = DeviceList.parse(await (await signed(a1, 'GET', '/v1/devices')).json());
      expect(list.devices).toEqual([
        { id: 'a1', name: 'laptop', createdAt: expect.any(Number) as number },
        { id: 'a2', name: 'phone', createdAt: expect.any(Number) as number, revokedAt: info.revokedAt },
      ]);
      const refused = await signed(a2, 'GET', '/v1/devices');
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject(unauthenticated);
      // Revoking again keeps the first time.
      expect(await (await signed(a1, 'POST', '/v1/devices/a2/revoke')).json()).toMatchObject({ revokedAt: info.revokedAt });
    });

    it("keeps accounts apart: another account's device ids read as unknown", async () => {
      expect(await deviceIds(b1)).toEqual(['b1']);
      for (const response of [
        await signed(b1, 'PATCH', '/v1/devices/a2', { body: { name: 'mine now' } }),
        await signed(b1, 'POST', '/v1/devices/a2/revoke'),
        await signed(b1, 'POST', '/v1/devices/zz/revoke'),
      ]) {
        expect(response.status).toBe(404);
        expect(await response.json()).toEqual({ error: { code: 'device-not-found', message: 'this account has no device with that id' } });
      }
      // B cannot speak for A's account with its own key either.
      expect((await signed({ ...b1, accountId: 'acctA' }, 'GET', '/v1/devices')).status).toBe(401);
      const a2Now = await storage.getDevice('acctA', 'a2');
      expect(a2Now).toMatchObject({ name: 'phone' });
      expect(a2Now?.revokedAt).toBeUndefined();

      expect((await signed(a1, 'PUT', '/v1/blobs/blobA', { body: randomBytes(100) })).status).toBe(201);
      expect((await signed(b1, 'GET', '/v1/blobs/blobA')).status).toBe(404);
      expect((await signed(b1, 'HEAD', '/v1/blobs/blobA')).status).toBe(404);
    });
  });

  describe('recovery', () => {
    function recoverBody(accountKey: Uint8Array, accountId: string, deviceId: string, keys: DeviceKeyPair, time = Date.now(), forHost = host) {
      const signature = signRecovery(accountKey, recoveryMessage(forHost, accountId, deviceId, keys.publicKey, time));
      return { device: { id: deviceId, name: 'new laptop', publicKey: toBase64Url(keys.publicKey) }, time, signature: toBase64Url(signature) };
    }

    it('enrols a device on a signature by the recovery key', async () => {
      const { device: a1, accountKey } = await register('acctA', 'a1');
      const keys = newDeviceKeyPair();
      const response = await postJson('/v1/accounts/acctA/recover', recoverBody(accountKey, 'acctA', 'r1', keys));
      expect(response.status).toBe(201);
      expect(await response.json()).toMatchObject({ accountId: 'acctA', device: { id: 'r1', name: 'new laptop' } });
      expect(await deviceIds({ accountId: 'acctA', deviceId: 'r1', keys })).toEqual(['a1', 'r1']);
      expect(await deviceIds(a1)).toEqual(['a1', 'r1']);
      // A replay names the same device, so it enrols nothing new.
      expect((await postJson('/v1/accounts/acctA/recover', recoverBody(accountKey, 'acctA', 'r1', keys))).status).toBe(409);
    });

    it('refuses forged, misdirected and stale recovery signatures', async () => {
      const { accountKey } = await register('acctA', 'a1');
      const { accountKey: otherKey } = await register('acctB', 'b1');
      const keys = newDeviceKeyPair();
      const refusals = [
        // Signed by another account's recovery key.
        await postJson('/v1/accounts/acctA/recover', recoverBody(otherKey, 'acctA', 'r1', keys)),
        // For another relay.
        await postJson('/v1/accounts/acctA/recover', recoverBody(accountKey, 'acctA', 'r1', keys, Date.now(), 'relay.example.com')),
        // For another device key than the one sent.
        await postJson('/v1/accounts/acctA/recover', { ...recoverBody(accountKey, 'acctA', 'r1', keys), device: { id: 'r1', name: 'x', publicKey: toBase64Url(newDeviceKeyPair().publicKey) } }),
        // An account that does not exist.
        await postJson('/v1/accounts/nobody/recover', recoverBody(accountKey, 'nobody', 'r1', keys)),
      ];
      const messages = new Set<string>();
      for (const response of refusals) {
        expect(response.status).toBe(401);
        const { error } = (await response.json()) as { error: { code: string; message: string } };
        expect(error.code).toBe('unauthenticated');
        messages.add(error.message);
      }
      expect(messages.size).toBe(1);

      const stale = await postJson('/v1/accounts/acctA/recover', recoverBody(accountKey, 'acctA', 'r1', keys, Date.now() - 2 * REQUEST_MAX_SKEW_MS));
      expect(stale.status).toBe(401);
      expect(await stale.json()).toMatchObject({ error: { message: expect.stringContaining("relay's clock") as string } });
      expect((await storage.listDevices('acctA')).map((d) => d.id)).toEqual(['a1']);
    });

    it('rate-limits recovery attempts per address', async () => {
      const { accountKey } = await register('acctA', 'a1');
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) {
        statuses.push((await postJson('/v1/accounts/acctA/recover', recoverBody(randomBytes(32), 'acctA', 'r1', newDeviceKeyPair()))).status);
      }
      expect(statuses).toEqual([...Array<number>(10).fill(401), 429]);
      expect((await postJson('/v1/accounts/acctA/recover', recoverBody(accountKey, 'acctA', 'r1', newDeviceKeyPair()))).status).toBe(429);
    });
  });

  describe('blobs', () => {
    let a1: TestDevice;

    beforeEach(async () => {
      await server.close();
      await start(['--max-blob-bytes', '4096', '--account-quota-bytes', '10000']);
      ({ device: a1 } = await register('acctA', 'a1'));
    });

    it('stores, answers HEAD and returns the exact bytes', async () => {
      const bytes = randomBytes(3000);
      expect((await signed(a1, 'HEAD', '/v1/blobs/blob1')).status).toBe(404);
      const put = await signed(a1, 'PUT', '/v1/blobs/blob1', { body: bytes });
      expect(put.status).toBe(201);
      expect(await put.json()).toEqual({ blobId: 'blob1', bytes: 3000 });
      expect((await signed(a1, 'PUT', '/v1/blobs/blob1', { body: bytes })).status).toBe(200);
      expect((await storage.getAccount('acctA'))?.usedBytes).toBe(3000);

      const head = await signed(a1, 'HEAD', '/v1/blobs/blob1');
      expect(head.status).toBe(200);
      expect(await head.arrayBuffer()).toEqual(new ArrayBuffer(0));

      const got = await signed(a1, 'GET', '/v1/blobs/blob1');
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe('application/octet-stream');
      expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);

      const missing = await signed(a1, 'GET', '/v1/blobs/blob2');
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: { code: 'blob-not-found' } });
    });

    it('refuses blobs over the limit, a full quota, bad ids and unsigned uploads', async () => {
      const tooBig = await signed(a1, 'PUT', '/v1/blobs/big', { body: randomBytes(5000) });
      expect(tooBig.status).toBe(413);
      expect(await tooBig.json()).toMatchObject({ error: { code: 'too-large', message: expect.stringContaining('4096 bytes') as string } });

      expect((await signed(a1, 'PUT', '/v1/blobs/one', { body: randomBytes(4000) })).status).toBe(201);
      expect((await signed(a1, 'PUT', '/v1/blobs/two', { body: randomBytes(4000) })).status).toBe(201);
      const full = await signed(a1, 'PUT', '/v1/blobs/three', { body: randomBytes(4000) });
      expect(full.status).toBe(507);
      expect(await full.json()).toMatchObject({ error: { code: 'quota-exceeded', message: expect.stringContaining('full') as string } });
      expect(await storage.hasBlob('acctA', 'three')).toBe(false);

      const longId = 'x'.repeat(65);
      expect((await signed(a1, 'PUT', `/v1/blobs/${longId}`, { body: randomBytes(10) })).status).toBe(400);
      expect((await signed(a1, 'GET', '/v1/blobs/bad.id')).status).toBe(400);
      expect((await signed(a1, 'PUT', '/v1/blobs/empty', { body: new Uint8Array(0) })).status).toBe(400);

      const unsigned = await fetch(`${baseUrl}/v1/blobs/anon`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(100) });
      expect(unsigned.status).toBe(401);
      const wrongBody = await signed(a1, 'PUT', '/v1/blobs/swapped', { body: randomBytes(100), signedBody: randomBytes(100) });
      expect(wrongBody.status).toBe(401);
      expect(await storage.hasBlob('acctA', 'swapped')).toBe(false);
    });
  });
});
