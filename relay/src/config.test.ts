import { MAX_BLOB_BYTES } from '@lva/shared';
import { describe, expect, it } from 'vitest';
import { relayConfig, RelayConfigError } from './config.ts';
import { RELAY_DEFAULT_PORT } from './index.ts';

describe('relayConfig', () => {
  it('defaults to loopback, the default port and ./relay-data', () => {
    const config = relayConfig([], {});
    expect(config).toMatchObject({ port: RELAY_DEFAULT_PORT, host: '127.0.0.1', dataDir: './relay-data' });
    expect(config.limits.bodyLimitBytes).toBeGreaterThan(0);
    expect(config.limits.accountQuotaBytes).toBeGreaterThan(0);
  });

  it('takes flags over environment variables over defaults', () => {
    const env = { LVA_RELAY_PORT: '9000', LVA_RELAY_DATA_DIR: '/env/dir', LVA_RELAY_HOST: '0.0.0.0' };
    expect(relayConfig([], env)).toMatchObject({ port: 9000, host: '0.0.0.0', dataDir: '/env/dir' });
    expect(relayConfig(['--port', '9001', '--data-dir', '/flag/dir'], env)).toMatchObject({
      port: 9001,
      dataDir: '/flag/dir',
    });
  });

  it('limits blob uploads to what a device can store unless told otherwise', () => {
    expect(relayConfig([], {}).limits.maxBlobBytes).toBe(MAX_BLOB_BYTES);
    expect(relayConfig([], { LVA_RELAY_MAX_BLOB_BYTES: '4096' }).limits.maxBlobBytes).toBe(4096);
    expect(relayConfig(['--max-blob-bytes', '2048'], { LVA_RELAY_MAX_BLOB_BYTES: '4096' }).limits.maxBlobBytes).toBe(2048);
    expect(() => relayConfig(['--max-blob-bytes', '10'], {})).toThrow(/^relay config: --max-blob-bytes="10": /);
  });

  it('limits sign-ups per address to a default a person never reaches, configurable', () => {
    expect(relayConfig([], {}).limits.signupsPerHour).toBe(30);
    expect(relayConfig(['--signups-per-hour', '5'], {}).limits.signupsPerHour).toBe(5);
    expect(relayConfig([], { LVA_RELAY_SIGNUPS_PER_HOUR: '7' }).limits.signupsPerHour).toBe(7);
    expect(() => relayConfig(['--signups-per-hour', '0'], {})).toThrow(/^relay config: --signups-per-hour="0": /);
  });

  it('explains a bad value or an unknown flag in one line', () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--port', 'abc'], {}, /^relay config: --port="abc": expected a whole number$/],
      [[], { LVA_RELAY_PORT: '70000' }, /^relay config: LVA_RELAY_PORT="70000": /],
      [['--data-dir', ''], {}, /^relay config: --data-dir="": expected a directory$/],
      [['--bogus', '1'], {}, /^relay config: Unknown option '--bogus'$/],
    ];
    for (const [argv, env, message] of cases) {
      const error: unknown = (() => {
        try {
          relayConfig(argv, env);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(RelayConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    }
  });
});
