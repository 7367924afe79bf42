import type { RelayStorageStats } from '../storage/RelayStorage.ts';

/** The content type Prometheus expects for its text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function metric(name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  return lines.join('\n');
}

/**
 * The relay's metrics. Storage counters come from the storage's own totals at scrape time, so
 * they count every write whichever code path made it and survive restarts; HTTP counts live here
 * because they belong to this process.
 */
export class RelayMetrics {
  // Keyed by route pattern, never by raw URL, so that scanners probing paths cannot grow the map.
  readonly #requests = new Map<string, { route: string; status: number; count: number }>();

  /** Counts one answered request. */
  recordRequest(route: string, status: number): void {
    const key = `${route}\u0000${status}`;
    const entry = this.#requests.get(key);
    if (entry) entry.count++;
    else this.#requests.set(key, { route, status, count: 1 });
  }

  /** Everything in Prometheus text format. */
  render(stats: RelayStorageStats): string {
    const requests = [...this.#requests.values()]
      .sort((a, b) => a.route.localeCompare(b.route) || a.status - b.status)
      .map(({ route, status, count }): [string, number] => [
        `{route="${escapeLabel(route)}",status="${status}"}`,
        count,
      ]);
    return (
      [
        metric('lva_relay_chunks_appended_total', 'counter', 'Encrypted chunks appended to document logs.', [
          ['', stats.chunksAppended],
        ]),
        metric('lva_relay_duplicate_chunks_total', 'counter', 'Chunk appends answered as retries of a stored chunk.', [
          ['', stats.duplicateChunks],
        ]),
        metric('lva_relay_bytes_stored_total', 'counter', 'Payload bytes accepted (chunks, snapshots, blobs).', [
          ['', stats.bytesWritten],
        ]),
        metric('lva_relay_bytes_used', 'gauge', 'Payload bytes held now, after compaction.', [['', stats.bytesUsed]]),
        metric('lva_relay_accounts', 'gauge', 'Accounts on this relay.', [['', stats.accounts]]),
        metric('lva_relay_http_requests_total', 'counter', 'HTTP requests answered, by route and status.', requests),
      ].join('\n') + '\n'
    );
  }
}
