/** The port the relay listens on when none is configured. */
export const RELAY_DEFAULT_PORT = 8787;
