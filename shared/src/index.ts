export * from './capture/Capture.ts';
export * from './capture/captureId.ts';
export * from './docs/layout.ts';
export * from './docs/journal.ts';
export * from './crypto/index.ts';
export * from './sync/index.ts';
export * from './rpc/contract.ts';
