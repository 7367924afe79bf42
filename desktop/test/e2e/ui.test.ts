import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LVA } from '../lvaProcess.ts';

const DESKTOP = path.resolve(import.meta.dirname, '../..');
const RENDERER_INDEX = path.join(DESKTOP, 'dist/renderer/index.html');
const ARTIFACTS = path.join(import.meta.dirname, 'artifacts');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Starts `lva serve` and resolves with the address it prints, token included. */
function serve(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  // Provider keys of whoever runs the tests never reach the child: the UI's tracer needs none.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(ANTHROPIC|OPENAI)_/.test(k)));
  const child = spawn(process.execPath, [LVA, 'serve', '--port', '0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'], env });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const url = /lva: serving on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (url) resolve({ child, url });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`lva serve exited (${code}) before serving:\n${stdout}\n${stderr}`)));
  });
}

// Chromium comes from the Debian package that scripts/setup.sh installs; without it this fails, never skips.
describe('the UI over `lva serve`', () => {
  let dataDir: string;
  let server: ChildProcess | undefined;
  let url: string;
  let browser: Browser | undefined;
  let page: Page;
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!fs.existsSync(RENDERER_INDEX)) {
      // `npm test` builds the UI first; this covers running the file on its own.
      const { build } = await import('vite');
      await build({ configFile: path.join(DESKTOP, 'vite.renderer.config.ts'), logLevel: 'warn' });
    }
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lva-ui-'));
    ({ child: server, url } = await serve(dataDir));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    page.on('console', (msg) => {
      // Violations only: Chromium also warns that the meta's `frame-ancestors` is ignored (it works only as a header).
      if (/^Refused to|violates the following Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  afterAll(async () => {
    await browser?.close();
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server?.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('captures, shows the capture in the timeline and finds it by a word, highlighted', async () => {
    await page.goto(url);
    await page.getByTestId('connection').filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });

    const text = 'Chloroplasts turn sunlight into sugar during photosynthesis';
    await page.getByLabel('Capture a thought').fill(text);
    await page.getByLabel('Capture a thought').press('Control+Enter');
    await page.getByTestId('timeline').getByText('Chloroplasts turn sunlight').waitFor({ timeout: 30_000 });
    // Cleared only once the core has stored it.
    expect(await page.getByLabel('Capture a thought').inputValue()).toBe('');
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-captured.png'), fullPage: true });

    await page.getByLabel('Search your captures').fill('photosynth');
    const mark = page.getByTestId('search-results').locator('mark').first();
    await mark.waitFor({ timeout: 30_000 });
    expect((await mark.textContent())?.toLowerCase()).toContain('photosynth');
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-search.png'), fullPage: true });

    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
