import { useState } from 'react';
import type { RpcClient } from '../rpc/client.ts';
import { errorText } from './format.ts';

export function CaptureBar({ client, onCaptured }: { client: RpcClient; onCaptured: (id: string) => void }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  async function submit(): Promise<void> {
    if (!text.trim() || busy) return;
    setBusy(true);
    setError(undefined);
    try {
      const { id } = await client.call('capture', { text, source: 'text' });
      // Cleared only once stored, so a failed capture leaves the words where they were typed.
      setText('');
      onCaptured(id);
    } catch (err) {
      setError(`Not captured: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      className="capture-bar"
      aria-label="Capture"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <label htmlFor="capture-text">Capture a thought</label>
      <textarea
        id="capture-text"
        value={text}
        rows={3}
        placeholder="What did you learn? (Ctrl+Enter to capture)"
        aria-describedby="capture-hint"
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            void submit();
          }
        }}
      />
      <div className="row">
        <span id="capture-hint" className="hint">
          Ctrl+Enter (⌘+Enter on a Mac) captures.
        </span>
        <button type="submit" disabled={busy || !text.trim()}>
          {busy ? 'Capturing…' : 'Capture'}
        </button>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
