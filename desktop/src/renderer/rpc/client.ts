import type { RpcMethod, RpcParams, RpcResult } from '@lva/shared';
import type { ConnectionState, RpcEvent, Transport } from './transport.ts';

/**
 * Shapes of results the contract leaves as `unknown` (the core owns them). Kept here, loosely, so the
 * UI reads what it shows and tolerates fields it does not know.
 */
export interface SearchHit {
  id: string;
  title: string;
  createdAt: number;
  source: string;
  snippet: string;
  /** [start, end) offsets into `snippet`. */
  highlights: [number, number][];
}
export interface SearchResult {
  mode: 'hybrid' | 'keyword';
  notice?: string;
  hits: SearchHit[];
}
export interface CaptureDetail {
  id: string;
  title?: string;
  text?: string;
  source?: string;
  createdAt?: number;
  tags?: string[];
}
export interface Citation {
  n: number;
  captureId: string;
  title: string;
}
/** The turn events the Ask panel shows; others (`conversation`, `said`, `retrieved`, …) pass through. */
export type TurnEvent =
  | { type: 'text'; text: string }
  | { type: 'citation'; citation: Citation }
  | { type: 'done'; answer: string; citations: Citation[] }
  | { type: 'reply'; turn: { id: string; text: string } }
  | { type: string; [key: string]: unknown };

export type CoreNotice = { type: 'notice'; message: string } | { type: 'progress'; task: string; done: number; total: number; message: string };

/** The typed face of the RPC: every method's params and result come from the shared contract. */
export class RpcClient {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  async call<M extends RpcMethod>(method: M, params: RpcParams<M>): Promise<RpcResult<M>> {
    return (await this.#transport.call(method, params)) as RpcResult<M>;
  }

  async search(params: RpcParams<'search'>): Promise<SearchResult> {
    return (await this.call('search', params)) as SearchResult;
  }

  async get(id: string): Promise<CaptureDetail | undefined> {
    return ((await this.call('get', { id })) ?? undefined) as CaptureDetail | undefined;
  }

  /** Runs one conversation turn; `onTurn` sees its events as they stream, before the call resolves. */
  async ask(params: RpcParams<'ask'>, onTurn: (event: TurnEvent) => void): Promise<RpcResult<'ask'>> {
    const result = await this.#transport.call('ask', params, (e) => {
      if (e.event === 'turn') onTurn(e.data as TurnEvent);
    });
    return result as RpcResult<'ask'>;
  }

  onEvent(listener: (event: RpcEvent) => void): () => void {
    return this.#transport.onEvent(listener);
  }

  onState(listener: (state: ConnectionState, reason?: string) => void): () => void {
    return this.#transport.onState(listener);
  }
}
