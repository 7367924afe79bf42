import type { RPC_VERSION, RpcServerMessage } from '@lva/shared';

/** A core event, or one event of a streamed call (then `id` is that call's id). */
export interface RpcEvent {
  event: string;
  id?: number;
  data: unknown;
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

/** What the client needs from a connection to the core, whether a WebSocket or (later) Electron's MessagePort. */
export interface Transport {
  /** `onStream` hears the events the server tags with this call's id (an ask's `turn` events) until it settles. */
  call(method: string, params: unknown, onStream?: (event: RpcEvent) => void): Promise<unknown>;
  /** Returns a function that removes the listener. */
  onEvent(listener: (event: RpcEvent) => void): () => void;
  onState(listener: (state: ConnectionState, reason?: string) => void): () => void;
  close(): void;
}

/** An error the core (or the connection) reported, with the contract's code. */
export class RpcCallError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'RpcCallError';
    this.code = code;
  }
}

// Only the types of the contract are imported (erased at build time), so none of @lva/shared's
// runtime (zod, crypto, Automerge) reaches the browser bundle; this line keeps the constant honest.
const VERSION: typeof RPC_VERSION = 1;

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

interface Pending {
  onStream: ((event: RpcEvent) => void) | undefined;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * The headless transport: `lva serve` prints `http://127.0.0.1:PORT/#token=TOKEN`; the token lives in
 * the fragment so it never reaches a server log or a Referer header, and is sent only on the socket.
 */
export class WebSocketTransport implements Transport {
  readonly #url: string;
  #socket: WebSocket | undefined;
  #nextId = 1;
  #attempt = 0;
  #closed = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  readonly #pending = new Map<number, Pending>();
  /** Calls made while (re)connecting go out once the socket opens, rather than failing at once. */
  #queue: string[] = [];
  readonly #eventListeners = new Set<(event: RpcEvent) => void>();
  readonly #stateListeners = new Set<(state: ConnectionState, reason?: string) => void>();
  #state: ConnectionState = 'connecting';

  constructor(url: string) {
    this.#url = url;
    this.#connect();
  }

  static fromLocation(loc: Location = window.location): WebSocketTransport {
    const token = new URLSearchParams(loc.hash.replace(/^#/, '')).get('token');
    if (!token) throw new RpcCallError('NO_TOKEN', 'this page was opened without its access token; open the full address that `lva serve` printed (it ends in #token=…)');
    const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
    return new WebSocketTransport(`${scheme}://${loc.host}/rpc?token=${encodeURIComponent(token)}`);
  }

  get state(): ConnectionState {
    return this.#state;
  }

  call(method: string, params: unknown, onStream?: (event: RpcEvent) => void): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RpcCallError('CLOSED', 'the connection to the core was closed'));
    const id = this.#nextId++;
    const frame = JSON.stringify({ v: VERSION, id, method, params });
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { onStream, resolve, reject });
      if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(frame);
      else this.#queue.push(frame);
    });
  }

  onEvent(listener: (event: RpcEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  onState(listener: (state: ConnectionState, reason?: string) => void): () => void {
    this.#stateListeners.add(listener);
    listener(this.#state);
    return () => this.#stateListeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#socket?.close();
    this.#failAll('the connection to the core was closed');
    this.#setState('closed', 'closed');
  }

  #connect(): void {
    this.#setState('connecting');
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    socket.addEventListener('open', () => {
      this.#attempt = 0;
      this.#setState('open');
      const queued = this.#queue;
      this.#queue = [];
      for (const frame of queued) socket.send(frame);
    });
    socket.addEventListener('message', (e: MessageEvent) => {
      if (typeof e.data === 'string') this.#receive(e.data);
    });
    socket.addEventListener('close', (e: CloseEvent) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      // A call in flight may or may not have run; retrying it blindly could capture twice, so it fails and the person decides.
      this.#failAll('the connection to the core dropped before it answered; try again once it reconnects');
      if (this.#closed) return;
      const reason = e.code === 1008 ? 'the server refused the access token' : e.reason || 'the connection to the core dropped';
      const delay = BACKOFF_MS[Math.min(this.#attempt++, BACKOFF_MS.length - 1)] ?? 8000;
      this.#setState('closed', `${reason}; reconnecting in ${Math.round(delay / 100) / 10} s`);
      this.#retry = setTimeout(() => this.#connect(), delay);
    });
  }

  #receive(raw: string): void {
    let msg: RpcServerMessage;
    try {
      msg = JSON.parse(raw) as RpcServerMessage;
    } catch {
      return;
    }
    if (msg.type === 'event') {
      const event: RpcEvent = { event: msg.event, data: msg.data, ...(msg.id !== undefined ? { id: msg.id } : {}) };
      if (msg.id !== undefined) {
        this.#pending.get(msg.id)?.onStream?.(event);
        return;
      }
      for (const listener of this.#eventListeners) listener(event);
      return;
    }
    if (msg.id === null) {
      // An error about a frame the server could not read at all: nothing to settle, but worth seeing.
      for (const listener of this.#eventListeners) listener({ event: 'notice', data: { message: msg.type === 'error' ? msg.error.message : 'the core sent an unreadable reply' } });
      return;
    }
    const pending = this.#pending.get(msg.id);
    if (!pending) return;
    this.#pending.delete(msg.id);
    if (msg.type === 'result') pending.resolve(msg.result);
    else pending.reject(new RpcCallError(msg.error.code, msg.error.message));
  }

  #failAll(message: string): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#queue = [];
    for (const p of pending) p.reject(new RpcCallError('DISCONNECTED', message));
  }

  #setState(state: ConnectionState, reason?: string): void {
    this.#state = state;
    for (const listener of this.#stateListeners) listener(state, reason);
  }
}

/** What Electron's preload will expose once the MessagePort transport exists. */
export interface LvaBridge {
  // TODO(electron): a MessagePort to the core, wrapped in a MessagePortTransport with the same framing.
  port?: MessagePort;
}

declare global {
  interface Window {
    lva?: LvaBridge;
  }
}

export function chooseTransport(): Transport {
  if (window.lva?.port) {
    // TODO(electron): return new MessagePortTransport(window.lva.port) once the preload exposes one.
    throw new RpcCallError('UNSUPPORTED', 'the Electron transport is not built yet');
  }
  return WebSocketTransport.fromLocation();
}
