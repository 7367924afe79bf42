import { readFileSync } from 'node:fs';
import { z } from 'zod';

// Read at run time rather than imported, so that the JSON stays outside the TypeScript project
// and the Docker image needs nothing but the sources and package.json.
const manifest = z
  .object({ version: z.string() })
  .parse(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')));

/** The relay package's version, as reported by /health. */
export const RELAY_VERSION: string = manifest.version;
