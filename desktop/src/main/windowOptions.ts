import type { WebPreferences } from 'electron';

/**
 * The renderer's Content-Security-Policy. `renderer/index.html` carries the same string in a meta
 * tag, and a test holds the two equal, so this is the one place to change it.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The sandboxed preload cannot call `app.getVersion()`, but it can read its own `process.argv`,
 * so the main process hands the version over as an argument.
 */
export const VERSION_ARG_PREFIX = '--lva-version=';

export interface WindowSecurityInput {
  readonly preloadPath: string;
  readonly appVersion: string;
}

export interface WindowSecurity {
  readonly webPreferences: WebPreferences;
  readonly contentSecurityPolicy: string;
}

export function windowSecurity(input: WindowSecurityInput): WindowSecurity {
  return {
    webPreferences: {
      preload: input.preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      additionalArguments: [`${VERSION_ARG_PREFIX}${input.appVersion}`],
    },
    contentSecurityPolicy: CONTENT_SECURITY_POLICY,
  };
}

/** Reads the version that `windowSecurity` put on the renderer's command line. */
export function versionFromArgv(argv: readonly string[]): string {
  const arg = argv.find((a) => a.startsWith(VERSION_ARG_PREFIX));
  return arg === undefined ? '' : arg.slice(VERSION_ARG_PREFIX.length);
}

/**
 * Push-to-talk needs the microphone and nothing else. The camera stays off until a feature
 * asks for it, so a media request that includes video is refused.
 */
export function isPermissionAllowed(permission: string, mediaTypes: readonly string[] = []): boolean {
  return permission === 'media' && !mediaTypes.includes('video');
}

/**
 * The app is one page; any other navigation is a link or an injected redirect, and following it
 * would hand the preload bridge to a page we did not write. Reloads keep the same URL.
 */
export function isNavigationAllowed(currentUrl: string, targetUrl: string): boolean {
  return currentUrl !== '' && targetUrl === currentUrl;
}
