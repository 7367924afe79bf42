import type { RpcResult } from '@lva/shared';
import { formatDate } from './format.ts';

type Capture = RpcResult<'list'>['captures'][number];

export function Timeline({ captures, error, onOpen }: { captures: Capture[] | undefined; error: string | undefined; onOpen: (id: string) => void }) {
  return (
    <section className="panel timeline" aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Newest captures</h2>
      {error && (
        <p className="error" role="alert">
          Could not load the timeline: {error}
        </p>
      )}
      {!captures && !error && <p className="muted">Loading…</p>}
      {captures?.length === 0 && <p className="muted">Nothing captured yet.</p>}
      {captures && captures.length > 0 && (
        <ol className="list" data-testid="timeline">
          {captures.map((c) => (
            <li key={c.id}>
              <button type="button" className="item" onClick={() => onOpen(c.id)}>
                <span className="title">{c.title || c.text.slice(0, 80) || '(untitled)'}</span>
                <span className="meta">
                  {formatDate(c.createdAt)} · {c.source}
                </span>
              </button>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
