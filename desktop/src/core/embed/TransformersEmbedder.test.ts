import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, expect, afterEach } from 'vitest';
import type { LoadProgress } from './Embedder.ts';
import { EmbedderUnavailableError } from './Embedder.ts';
import { transformersEmbedderSource } from './TransformersEmbedder.ts';

// Real weights kept outside the repo (see ../shared/models/README.md); never copied into it.
const SHARED_MODELS = path.resolve(import.meta.dirname, '../../../../../shared/models');
const WHISPER = 'Xenova/whisper-tiny';

async function loadError(load: Promise<unknown>): Promise<EmbedderUnavailableError> {
  const error: unknown = await load.then(
    () => new Error('expected the load to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EmbedderUnavailableError);
  return error as EmbedderUnavailableError;
}

describe('TransformersEmbedder loading', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  function tempDir(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'lva-hf-models-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** Serves ../shared/models the way the Hub does (`/<model>/resolve/<revision>/<file>`), or never answers. */
  async function fakeHub(mode: 'serve' | 'hang'): Promise<{ url: string; requests: string[] }> {
    const requests: string[] = [];
    const server: Server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (mode === 'hang') return;
      const match = /^\/(.+?)\/resolve\/[^/]+\/(.+)$/.exec(decodeURIComponent(req.url ?? ''));
      const file = match ? path.join(SHARED_MODELS, match[1] ?? '', match[2] ?? '') : '';
      if (!file.startsWith(SHARED_MODELS + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': statSync(file).size, 'content-type': 'application/octet-stream' });
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, requests };
  }

  it('has an id naming the model and dtype', () => {
    const source = transformersEmbedderSource({ modelDir: '/nowhere', allowRemote: false });
    expect(source.id).toBe('hf:Xenova/all-MiniLM-L6-v2:q8');
    expect(source.dimension).toBe(384);
    expect(transformersEmbedderSource({ model: 'Xenova/bge-base-en-v1.5', dimension: 768, dtype: 'fp32', modelDir: '/x', allowRemote: true }).id).toBe(
      'hf:Xenova/bge-base-en-v1.5:fp32',
    );
  });

  it('offline with an empty model dir: says which dir to fill', async () => {
    const modelDir = tempDir();
    const error = await loadError(transformersEmbedderSource({ modelDir, allowRemote: false }).load());
    expect(error.embedderId).toBe('hf:Xenova/all-MiniLM-L6-v2:q8');
    expect(error.message).toContain(`model files not found in ${path.join(modelDir, 'Xenova/all-MiniLM-L6-v2')}`);
    expect(error.message).toContain('connect to the internet once');
    expect(error.message).toContain('copy the model there');
  });

  it('offline with real local files: reads them from the model dir, then refuses a model that cannot embed sentences', async () => {
    const progress: LoadProgress[] = [];
    const source = transformersEmbedderSource({ model: WHISPER, modelDir: SHARED_MODELS, allowRemote: false });
    const error = await loadError(source.load((p) => progress.push(p)));

    const files = new Set(progress.map((p) => p.file).filter((f) => f !== undefined));
    for (const file of ['config.json', 'tokenizer.json', 'onnx/encoder_model_quantized.onnx']) expect(files).toContain(file);
    // Every file was found locally, so nothing is reported as a download.
    expect(progress.filter((p) => p.stage === 'download')).toEqual([]);
    expect(progress.find((p) => p.file === 'onnx/encoder_model_quantized.onnx' && p.loaded === p.total && p.total)).toBeDefined();
    expect(progress.at(-1)?.stage).not.toBe('ready');
    // whisper-tiny loads as a WhisperModel (encoder + decoder), so the failure shows up at the warm-up embedding.
    expect(error.message).toContain(`${WHISPER} loaded but cannot embed sentences`);
    expect(error.message).toContain('input_features');
    expect(error.message).toContain('Xenova/all-MiniLM-L6-v2');
  });

  it('offline with corrupt weights: says to fetch or copy the model again', async () => {
    const modelDir = tempDir();
    const dir = path.join(modelDir, WHISPER);
    await mkdir(path.join(dir, 'onnx'), { recursive: true });
    for (const file of ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      await copyFile(path.join(SHARED_MODELS, WHISPER, file), path.join(dir, file));
    }
    for (const file of ['encoder_model_quantized.onnx', 'decoder_model_merged_quantized.onnx']) {
      await writeFile(path.join(dir, 'onnx', file), 'not an onnx model');
    }
    const error = await loadError(transformersEmbedderSource({ model: WHISPER, modelDir, allowRemote: false }).load());
    expect(error.message).toContain(`the model files in ${dir} could not be used`);
    expect(error.message).toContain('download the model again, or copy a complete copy there');
  });

  it('online: downloads into the model dir once with progress, and later loads offline from there', async () => {
    const hub = await fakeHub('serve');
    const modelDir = tempDir();
    const progress: LoadProgress[] = [];
    const online = transformersEmbedderSource({ model: WHISPER, modelDir, allowRemote: true, remoteHost: hub.url });
    const error = await loadError(online.load((p) => progress.push(p)));
    expect(error.message).toContain('cannot embed sentences');

    const downloads = progress.filter((p) => p.stage === 'download');
    expect(downloads.map((p) => p.file)).toContain('onnx/encoder_model_quantized.onnx');
    expect(downloads.some((p) => p.file === undefined && (p.total ?? 0) > 40_000_000)).toBe(true);
    expect(existsSync(path.join(modelDir, WHISPER, 'onnx/encoder_model_quantized.onnx'))).toBe(true);
    expect(hub.requests.some((url) => url.endsWith('/onnx/encoder_model_quantized.onnx'))).toBe(true);

    const requestsBefore = hub.requests.length;
    const offlineProgress: LoadProgress[] = [];
    const offline = transformersEmbedderSource({ model: WHISPER, modelDir, allowRemote: false });
    expect((await loadError(offline.load((p) => offlineProgress.push(p)))).message).toContain('cannot embed sentences');
    expect(offlineProgress.filter((p) => p.stage === 'download')).toEqual([]);
    expect(hub.requests.length).toBe(requestsBefore);
  });

  it('online with no network: fails quickly with advice', async () => {
    const started = Date.now();
    const source = transformersEmbedderSource({ modelDir: tempDir(), allowRemote: true, fetchTimeoutMs: 5_000 });
    const error = await loadError(source.load());
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(error.message).toContain('could not be downloaded');
    expect(error.message).toContain('check the internet connection');
  });

  it('online with a host that never answers: gives up after the fetch timeout', async () => {
    const hub = await fakeHub('hang');
    const started = Date.now();
    const source = transformersEmbedderSource({ modelDir: tempDir(), allowRemote: true, remoteHost: hub.url, fetchTimeoutMs: 300 });
    const error = await loadError(source.load());
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(hub.requests.length).toBeGreaterThan(0);
    expect(error.message).toContain('could not be downloaded (no answer from');
  });
});
