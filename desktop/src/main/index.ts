import { app, BrowserWindow, session } from 'electron';
import { fileURLToPath } from 'node:url';
import { isNavigationAllowed, isPermissionAllowed, windowSecurity } from './windowOptions.ts';

// The main process stays thin: windows, tray, hotkey and lifecycle. The core will run in a
// `utilityProcess` (DESIGN.md, "Clients") so that indexing and sync never stall the UI thread;
// that arrives with the desktop issue, together with the typed RPC over a MessagePort.

// Sandboxed preloads run as plain CommonJS scripts whatever their extension, so the build has to
// emit CommonJS at this path.
const preloadPath = fileURLToPath(new URL('../preload/index.js', import.meta.url));
const rendererHtml = fileURLToPath(new URL('../renderer/index.html', import.meta.url));

let mainWindow: BrowserWindow | undefined;

function createWindow(): BrowserWindow {
  const { webPreferences } = windowSecurity({ preloadPath, appVersion: app.getVersion() });
  const win = new BrowserWindow({ width: 1100, height: 760, show: false, webPreferences });
  win.once('ready-to-show', () => win.show());
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = undefined;
  });

  // A packaged app never takes its page from the environment: whoever sets that variable would
  // get a page with the preload bridge.
  const devUrl = app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL;
  const loading = devUrl === undefined ? win.loadFile(rendererHtml) : win.loadURL(devUrl);
  loading.catch((error: unknown) => console.error('renderer failed to load', error));
  return win;
}

function focusMainWindow(): void {
  if (mainWindow === undefined) return;
  if (mainWindow.isMinimized()) mainWindow.restore();
  mainWindow.focus();
}

function lockDown(): void {
  // Applied to every webContents, not only ours, so a future window cannot forget it.
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (event) => {
      if (!isNavigationAllowed(contents.getURL(), event.url)) event.preventDefault();
    });
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  session.defaultSession.setPermissionRequestHandler((_contents, permission, callback, details) => {
    callback(isPermissionAllowed(permission, 'mediaTypes' in details ? details.mediaTypes : undefined));
  });
  session.defaultSession.setPermissionCheckHandler((_contents, permission, _origin, details) =>
    isPermissionAllowed(permission, details.mediaType === undefined ? undefined : [details.mediaType]),
  );
}

// A second copy would open the same local database and fight over the hotkey.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', focusMainWindow);
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (mainWindow === undefined) mainWindow = createWindow();
  });
  app
    .whenReady()
    .then(() => {
      lockDown();
      mainWindow = createWindow();
    })
    .catch((error: unknown) => {
      console.error('startup failed', error);
      app.exit(1);
    });
}
