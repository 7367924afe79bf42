export * from './limits.ts';
export * from './messages.ts';
export * from './codec.ts';
export * from './relayApi.ts';
