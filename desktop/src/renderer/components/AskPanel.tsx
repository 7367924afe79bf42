import { useState } from 'react';
import type { Citation, RpcClient, TurnEvent } from '../rpc/client.ts';
import { errorText } from './format.ts';

/** A reply as it streams: text pieces with citations placed where the model put them. */
type Piece = { kind: 'text'; text: string } | { kind: 'citation'; citation: Citation };

export function AskPanel({ client, onOpen }: { client: RpcClient; onOpen: (id: string) => void }) {
  const [question, setQuestion] = useState('');
  const [conversationId, setConversationId] = useState<string>();
  const [pieces, setPieces] = useState<Piece[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  function onTurn(event: TurnEvent): void {
    if (event.type === 'text' && typeof event.text === 'string') {
      const text = event.text;
      setPieces((ps) => [...ps, { kind: 'text', text }]);
    } else if (event.type === 'citation' && event.citation && typeof event.citation === 'object') {
      const citation = event.citation as Citation;
      setPieces((ps) => [...ps, { kind: 'citation', citation }]);
    }
  }

  async function submit(): Promise<void> {
    const text = question.trim();
    if (!text || busy) return;
    setBusy(true);
    setError(undefined);
    setPieces([]);
    try {
      const result = await client.ask({ text, mode: 'ask', ...(conversationId ? { conversationId } : {}) }, onTurn);
      setConversationId(result.conversationId);
      setQuestion('');
    } catch (err) {
      setError(`No answer: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="panel ask" aria-labelledby="ask-heading">
      <h2 id="ask-heading">Ask</h2>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label htmlFor="ask-input" className="visually-hidden">
          Your question
        </label>
        <input id="ask-input" type="text" value={question} placeholder="Ask about what you captured…" autoComplete="off" onChange={(e) => setQuestion(e.target.value)} />
        <button type="submit" disabled={busy || !question.trim()}>
          {busy ? 'Answering…' : 'Ask'}
        </button>
      </form>
      {conversationId && (
        <button type="button" className="link" onClick={() => setConversationId(undefined)}>
          Start a new conversation
        </button>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="answer" aria-live="polite" aria-busy={busy} data-testid="answer">
        {pieces.map((p, i) =>
          p.kind === 'text' ? (
            <span key={i}>{p.text}</span>
          ) : (
            <button key={i} type="button" className="citation" title={p.citation.title} aria-label={`Source ${p.citation.n}: ${p.citation.title}`} onClick={() => onOpen(p.citation.captureId)}>
              [{p.citation.n}]
            </button>
          ),
        )}
      </div>
    </section>
  );
}
