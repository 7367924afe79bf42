import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CONTENT_SECURITY_POLICY,
  isNavigationAllowed,
  isPermissionAllowed,
  versionFromArgv,
  windowSecurity,
} from './windowOptions.ts';

const security = windowSecurity({ preloadPath: '/app/out/preload/index.js', appVersion: '1.2.3' });

function cspFromHtml(html: string): string {
  const tag = /<meta\s[^>]*http-equiv="Content-Security-Policy"[^>]*>/i.exec(html);
  const content = tag === null ? null : /\scontent="([^"]*)"/i.exec(tag[0]);
  if (content?.[1] === undefined) throw new Error('renderer/index.html has no CSP meta tag');
  return content[1];
}

describe('windowSecurity', () => {
  it('isolates and sandboxes the renderer', () => {
    const prefs = security.webPreferences;
    expect(prefs.contextIsolation).toBe(true);
    expect(prefs.sandbox).toBe(true);
    expect(prefs.nodeIntegration).toBe(false);
    expect(prefs.nodeIntegrationInWorker).toBe(false);
    expect(prefs.webSecurity).toBe(true);
    expect(prefs.webviewTag).toBe(false);
    expect(prefs.preload).toBe('/app/out/preload/index.js');
  });

  it('hands the app version to the preload', () => {
    expect(versionFromArgv(['electron', ...(security.webPreferences.additionalArguments ?? [])])).toBe('1.2.3');
    expect(versionFromArgv(['electron'])).toBe('');
  });

  it('has a CSP without inline or eval escapes', () => {
    expect(security.contentSecurityPolicy).toBe(CONTENT_SECURITY_POLICY);
    expect(security.contentSecurityPolicy).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(security.contentSecurityPolicy).toContain("object-src 'none'");
  });

  it('matches the CSP in renderer/index.html', () => {
    const html = readFileSync(fileURLToPath(new URL('../renderer/index.html', import.meta.url)), 'utf8');
    expect(cspFromHtml(html)).toBe(security.contentSecurityPolicy);
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i);
  });
});

describe('isPermissionAllowed', () => {
  it('allows the microphone only', () => {
    expect(isPermissionAllowed('media', ['audio'])).toBe(true);
    expect(isPermissionAllowed('media')).toBe(true);
    expect(isPermissionAllowed('media', ['audio', 'video'])).toBe(false);
    for (const p of ['geolocation', 'notifications', 'openExternal', 'display-capture', 'clipboard-read']) {
      expect(isPermissionAllowed(p)).toBe(false);
    }
  });
});

describe('isNavigationAllowed', () => {
  it('allows only staying on the same page', () => {
    expect(isNavigationAllowed('file:///app/index.html', 'file:///app/index.html')).toBe(true);
    expect(isNavigationAllowed('file:///app/index.html', 'https://example.com/')).toBe(false);
    expect(isNavigationAllowed('', 'https://example.com/')).toBe(false);
  });
});
