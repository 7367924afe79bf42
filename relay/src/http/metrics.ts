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
  // Keyed by decoded frame type (or 'invalid'), a closed set, for the same reason.
  readonly #frames = new Map<string, number>();
  #authFailures = 0;
  #syncConnections = 0;

  /** Counts one sync frame received from a device. */
  recordFrame(type: string): void {
    this.#frames.set(type, (this.#frames.get(type) ?? 0) + 1);
  }

  /** Counts one refused sync authentication. */
  recordAuthFailure(): void {
    this.#authFailures++;
  }

  /** Moves the open sync sockets gauge by +1 or -1. */
  syncConnectionsChanged(delta: 1 | -1): void {
    this.#syncConnections += delta;
  }

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
        metric(
          'lva_relay_sync_frames_total',
          'counter',
          'Sync frames received from devices, by type.',
          [...this.#frames.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([type, count]) => [`{type="${escapeLabel(type)}"}`, count]),
        ),
        metric('lva_relay_sync_auth_failures_total', 'counter', 'Sync connections refused at authentication.', [
          ['', this.#authFailures],
        ]),
        metric('lva_relay_sync_connections', 'gauge', 'Sync sockets open now.', [['', this.#syncConnections]]),
      ].join('\n') + '\n'
    );
  }
}
