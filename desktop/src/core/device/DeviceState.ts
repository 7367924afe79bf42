import fs from 'node:fs';
import { z } from 'zod';
import { CoreError } from '../errors.ts';
import { writeFileDurable } from '../fsync.ts';

/** What only this device knows about itself; never synced. Later issues add its key pair here. */
export const DeviceState = z.object({
  version: z.literal(1),
  deviceId: z.string().regex(/^[a-z0-9]{16}$/),
  deviceName: z.string().min(1).max(100),
  accountUrl: z.string().startsWith('automerge:'),
  createdAt: z.number().int(),
});
export type DeviceState = z.infer<typeof DeviceState>;

export function newDeviceId(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => 'abcdefghijklmnopqrstuvwxyz234567'[b % 32]).join('');
}

export function readDeviceState(file: string): DeviceState | undefined {
  if (!fs.existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CoreError('DATA_DIR_INVALID', `${file} is not valid JSON; restore it from a backup or use a new data directory`, { cause: err });
  }
  const parsed = DeviceState.safeParse(raw);
  if (!parsed.success) throw new CoreError('DATA_DIR_INVALID', `${file} is not a device file of this app (${parsed.error.issues[0]?.message})`);
  return parsed.data;
}

export function writeDeviceState(file: string, state: DeviceState): void {
  writeFileDurable(file, JSON.stringify(state, null, 2) + '\n');
}
