import { useEffect, useRef, useState } from 'react';
import type { CaptureDetail, RpcClient } from '../rpc/client.ts';
import { errorText, formatDate } from './format.ts';

export function DetailPane({ client, id, onClose }: { client: RpcClient; id: string; onClose: () => void }) {
  const [capture, setCapture] = useState<CaptureDetail | null>();
  const [error, setError] = useState<string>();
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    let current = true;
    setCapture(undefined);
    setError(undefined);
    client.get(id).then(
      (c) => {
        if (current) setCapture(c ?? null);
      },
      (err: unknown) => {
        if (current) setError(errorText(err));
      },
    );
    return () => {
      current = false;
    };
  }, [client, id]);

  // Focus follows what was opened, so a keyboard user lands on it and Escape takes them back.
  useEffect(() => heading.current?.focus(), [capture]);

  return (
    <aside
      className="panel detail"
      aria-labelledby="detail-heading"
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose();
      }}
    >
      <div className="row">
        <h2 id="detail-heading" tabIndex={-1} ref={heading}>
          {capture ? capture.title || '(untitled)' : 'Capture'}
        </h2>
        <button type="button" onClick={onClose} aria-label="Close the capture">
          Close
        </button>
      </div>
      {error && (
        <p className="error" role="alert">
          Could not open it: {error}
        </p>
      )}
      {capture === undefined && !error && <p className="muted">Loading…</p>}
      {capture === null && <p className="muted">This capture no longer exists.</p>}
      {capture && (
        <>
          <p className="meta">
            {formatDate(capture.createdAt)}
            {capture.source ? ` · ${capture.source}` : ''}
            {capture.tags?.length ? ` · ${capture.tags.join(', ')}` : ''}
          </p>
          <p className="body">{capture.text}</p>
        </>
      )}
    </aside>
  );
}
