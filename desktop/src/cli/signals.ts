/** Resolves on the first Ctrl-C or SIGTERM: how a long-running command (serve, sync --watch) stops cleanly. */
export function untilSignalled(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
