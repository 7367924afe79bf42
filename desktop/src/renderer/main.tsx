import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { RpcClient } from './rpc/client.ts';
import { chooseTransport } from './rpc/transport.ts';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

let client: RpcClient | undefined;
let startupError: string | undefined;
try {
  client = new RpcClient(chooseTransport());
} catch (err) {
  startupError = err instanceof Error ? err.message : String(err);
}

createRoot(root).render(
  <StrictMode>
    {client ? (
      <App client={client} />
    ) : (
      <main className="fatal" role="alert">
        <h1>Learning Voice Agent</h1>
        <p>Could not connect to the core: {startupError}</p>
      </main>
    )}
  </StrictMode>,
);
