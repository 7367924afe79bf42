import { defaultDataDir } from '../../core/DataDir.ts';
import { UsageError } from '../CliError.ts';
import type { GlobalValues } from '../context.ts';

export function dataDirOf(values: GlobalValues): string {
  return values['data-dir'] ?? defaultDataDir();
}

export function relayUrlOf(value: string | undefined, usage: string): string {
  if (!value) throw new UsageError(`usage: ${usage} (e.g. https://relay.example.org)`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--relay must be a URL like https://relay.example.org (got "${value}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--relay must be an http:// or https:// URL (got "${value}")`);
  return value;
}
