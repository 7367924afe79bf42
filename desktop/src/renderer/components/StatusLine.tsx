import type { ConnectionState } from '../rpc/transport.ts';

export interface Status {
  connection: ConnectionState;
  /** Why the connection is not open. */
  reason?: string;
  /** The core's latest notice or progress report. */
  message?: string;
  kind?: string;
}

const LABELS: Record<ConnectionState, string> = { connecting: 'Connecting…', open: 'Connected', closed: 'Disconnected' };

export function StatusLine({ status }: { status: Status }) {
  return (
    <footer className="status" role="status" aria-live="polite" data-state={status.connection}>
      <span className="dot" aria-hidden="true" />
      <span data-testid="connection">{LABELS[status.connection]}</span>
      {status.connection !== 'open' && status.reason && <span>: {status.reason}</span>}
      {status.message && <span className="message">· {status.message}</span>}
    </footer>
  );
}
