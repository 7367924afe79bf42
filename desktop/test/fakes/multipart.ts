/** One part of a multipart/form-data body; `filename` is set only for file parts. */
export interface MultipartPart {
  readonly name: string;
  readonly filename?: string;
  readonly contentType?: string;
  readonly headers: Record<string, string>;
  readonly data: Buffer;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Parses a multipart/form-data body (RFC 7578). Throws on anything malformed, because a fake that
 * tolerates a broken upload would hide exactly the bugs it is there to catch.
 */
export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw new Error(`no boundary in content-type: ${contentType}`);
  const delimiter = Buffer.from(`--${boundary}`);
  const between = Buffer.concat([CRLF, delimiter]);

  let pos = body.indexOf(delimiter);
  if (pos !== 0 && body.subarray(0, pos).toString('latin1').trim() !== '') {
    throw new Error('multipart body does not start with its boundary');
  }
  const parts: MultipartPart[] = [];
  while (pos >= 0) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts;
    if (!body.subarray(pos, pos + 2).equals(CRLF)) throw new Error('boundary not followed by CRLF');
    pos += 2;
    const end = body.indexOf(between, pos);
    if (end < 0) throw new Error('multipart part is not terminated by a boundary');
    parts.push(parsePart(body.subarray(pos, end)));
    pos = end + CRLF.length;
  }
  throw new Error('multipart body has no closing boundary');
}

function parsePart(raw: Buffer): MultipartPart {
  const split = raw.indexOf(HEADER_END);
  if (split < 0) throw new Error('multipart part has no header block');
  const headers: Record<string, string> = {};
  for (const line of raw.subarray(0, split).toString('utf8').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const disposition = headers['content-disposition'] ?? '';
  const name = dispositionParam(disposition, 'name');
  if (name === undefined) throw new Error(`multipart part without a name: ${disposition}`);
  const filename = dispositionParam(disposition, 'filename');
  return {
    name,
    ...(filename !== undefined ? { filename } : {}),
    ...(headers['content-type'] !== undefined ? { contentType: headers['content-type'] } : {}),
    headers,
    data: Buffer.from(raw.subarray(split + HEADER_END.length)),
  };
}

function dispositionParam(disposition: string, key: string): string | undefined {
  // Anchored on `;` so `name` does not match inside `filename`.
  const quoted = new RegExp(`;\\s*${key}="((?:[^"\\\\]|\\\\.)*)"`, 'i');
  const bare = new RegExp(`;\\s*${key}=([^;\\s]+)`, 'i');
  const match = quoted.exec(disposition) ?? bare.exec(disposition);
  if (!match?.[1]) return match ? '' : undefined;
  // undici percent-escapes quotes and line breaks in names (WHATWG form encoding); others backslash-escape.
  return match[1].replace(/%22/g, '"').replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/\\(.)/g, '$1');
}
