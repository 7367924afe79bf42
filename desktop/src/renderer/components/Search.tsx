import { useEffect, useState } from 'react';
import type { RpcClient, SearchResult } from '../rpc/client.ts';
import { errorText, formatDate } from './format.ts';
import { Highlighted } from './Highlighted.tsx';

/** Long enough to skip the keystrokes of a word being typed, short enough to feel instant. */
const DEBOUNCE_MS = 120;

export function Search({ client, onOpen, refreshKey }: { client: RpcClient; onOpen: (id: string) => void; refreshKey: number }) {
  const [query, setQuery] = useState('');
  const [result, setResult] = useState<SearchResult>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setResult(undefined);
      setError(undefined);
      return;
    }
    // Answers can arrive out of order; only the newest query's answer is shown.
    let current = true;
    const timer = setTimeout(() => {
      client.search({ query: q, asYouType: true, limit: 20 }).then(
        (r) => {
          if (!current) return;
          setResult(r);
          setError(undefined);
        },
        (err: unknown) => {
          if (current) setError(errorText(err));
        },
      );
    }, DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [client, query, refreshKey]);

  return (
    <section className="panel search" aria-labelledby="search-heading">
      <h2 id="search-heading">Search</h2>
      <label htmlFor="search-input" className="visually-hidden">
        Search your captures
      </label>
      <input id="search-input" type="search" value={query} placeholder="Search your captures…" autoComplete="off" onChange={(e) => setQuery(e.target.value)} />
      {error && (
        <p className="error" role="alert">
          Search failed: {error}
        </p>
      )}
      <div aria-live="polite">
        {result?.notice && <p className="muted">{result.notice}</p>}
        {result && result.hits.length === 0 && <p className="muted">No captures match “{query.trim()}”.</p>}
        {result && result.hits.length > 0 && (
          <ol className="list" data-testid="search-results" aria-label="Search results">
            {result.hits.map((hit) => (
              <li key={hit.id}>
                <button type="button" className="item" onClick={() => onOpen(hit.id)}>
                  <span className="title">{hit.title || '(untitled)'}</span>
                  <span className="snippet">
                    <Highlighted text={hit.snippet} ranges={hit.highlights} />
                  </span>
                  <span className="meta">{formatDate(hit.createdAt)}</span>
                </button>
              </li>
            ))}
          </ol>
        )}
      </div>
    </section>
  );
}
