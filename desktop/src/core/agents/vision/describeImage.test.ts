import type Anthropic from '@anthropic-ai/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
// The cloud API is a local fake that speaks its wire protocol; the real SDK talks to it.
import { startAnthropicFake, type AnthropicFake } from '../../../../test/fakes/anthropicFake.ts';
import { claudeClient } from '../claude.ts';
import { providerSettingsFromEnv, type ProviderSettings } from '../ProviderSettings.ts';
import { describeImage, MAX_IMAGE_BASE64_BYTES, sniffImageMime } from './describeImage.ts';
import { failure } from '../../../../test/failure.ts';

// A real 1x1 PNG: the API checks that the bytes match the media type, so tests send real headers.
const PNG = Uint8Array.from(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64'));
const JPEG_HEAD = [0xff, 0xd8, 0xff, 0xe0];

function sized(head: readonly number[], length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  bytes.set(head);
  return bytes;
}

const WHITEBOARD = {
  description: 'A whiteboard diagram of the Krebs cycle feeding the electron transport chain.',
  text: 'Krebs cycle → NADH → ETC\nATP!',
  concepts: [
    { name: 'Krebs cycle', type: 'topic', importance: 0.9 },
    { name: 'electron transport chain', type: 'topic', importance: 0.8 },
  ],
  relations: [
    { from: 'Krebs cycle', to: 'electron transport chain', kind: 'causes' },
    { from: 'Krebs cycle', to: 'glycolysis', kind: 'related_to' },
  ],
};


describe('describeImage', () => {
  let fake: AnthropicFake;
  let settings: ProviderSettings;
  let client: Anthropic;

  beforeEach(async () => {
    fake = await startAnthropicFake();
    settings = providerSettingsFromEnv({ ANTHROPIC_API_KEY: 'test', ANTHROPIC_BASE_URL: fake.url, LVA_AI_MAX_RETRIES: '2', LVA_MODEL_VISION: 'claude-vision-test' });
    client = claudeClient(settings, 'x');
  });
  afterEach(async () => {
    await fake.close();
  });

  it('sends the image as base64 with instructions to the vision model and returns what record_image recorded', async () => {
    fake.script({ kind: 'tool_use', name: 'record_image', input: WHITEBOARD, usage: { input_tokens: 1600, output_tokens: 120 } });

    const result = await describeImage(client, settings, { bytes: PNG, mime: 'image/png', name: 'board.png' });

    expect(result).toEqual({
      description: WHITEBOARD.description,
      text: WHITEBOARD.text,
      concepts: WHITEBOARD.concepts,
      // glycolysis is not among the concepts.
      relations: [WHITEBOARD.relations[0]],
      usage: { inputTokens: 1600, outputTokens: 120 },
      model: 'claude-vision-test',
    });
    const body = fake.messageRequests()[0]?.body as Anthropic.MessageCreateParamsNonStreaming;
    expect(body.model).toBe('claude-vision-test');
    expect(body.tool_choice).toEqual({ type: 'tool', name: 'record_image' });
    expect(body.tools?.[0]).toMatchObject({ name: 'record_image', input_schema: { type: 'object', required: ['description', 'text', 'concepts', 'relations'] } });
    const content = body.messages[0]?.content as Anthropic.ContentBlockParam[];
    expect(content[0]).toEqual({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: Buffer.from(PNG).toString('base64') } });
    expect(content[1]).toMatchObject({ type: 'text' });
    expect((content[1] as Anthropic.TextBlockParam).text).toContain('board.png');
  });

  it('sends the media type the bytes have, whatever the file was labelled', async () => {
    fake.script({ kind: 'tool_use', name: 'record_image', input: { ...WHITEBOARD, text: '', concepts: [], relations: [] } });
    const result = await describeImage(client, settings, { bytes: PNG, mime: 'image/jpg' });
    expect(result.text).toBe('');
    const content = (fake.messageRequests()[0]?.body as Anthropic.MessageCreateParamsNonStreaming).messages[0]?.content as Anthropic.ImageBlockParam[];
    expect(content[0]?.source).toMatchObject({ media_type: 'image/png' });
  });

  it('refuses unsupported types without a request', async () => {
    const err = await failure(describeImage(client, settings, { bytes: PNG, mime: 'image/heic', name: 'IMG_1.heic' }));
    expect(err.code).toBe('BAD_INPUT');
    expect(err.message).toContain('PNG, JPEG, GIF or WebP');
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses bytes that are no image, and empty files, without a request', async () => {
    expect((await failure(describeImage(client, settings, { bytes: new TextEncoder().encode('hello'), mime: 'image/png' }))).code).toBe('BAD_INPUT');
    expect((await failure(describeImage(client, settings, { bytes: new Uint8Array(0), mime: 'image/png' }))).code).toBe('BAD_INPUT');
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses an image over the API limit as TOO_LARGE, without a request', async () => {
    // 4 MB of file is about 5.3 MB once base64-encoded, which is what the API counts.
    const err = await failure(describeImage(client, settings, { bytes: sized(JPEG_HEAD, 4 * 1024 * 1024), mime: 'image/jpeg', name: 'photo.jpg' }));
    expect(err.code).toBe('TOO_LARGE');
    expect(err.message).toContain('photo.jpg');
    expect(err.message).toContain('5 MB');
    expect(fake.requests).toHaveLength(0);
  });

  it('accepts an image exactly at the limit', async () => {
    fake.script({ kind: 'tool_use', name: 'record_image', input: WHITEBOARD });
    const bytes = sized(JPEG_HEAD, (MAX_IMAGE_BASE64_BYTES / 4) * 3);
    await describeImage(client, settings, { bytes, mime: 'image/jpeg' });
    const content = (fake.messageRequests()[0]?.body as Anthropic.MessageCreateParamsNonStreaming).messages[0]?.content as Anthropic.ImageBlockParam[];
    expect((content[0]?.source as Anthropic.Base64ImageSource).data).toHaveLength(MAX_IMAGE_BASE64_BYTES);
  });

  it.each([
    ['a missing description', { text: '', concepts: [], relations: [] }],
    ['text of the wrong type', { ...WHITEBOARD, text: null }],
    ['an importance of 7', { ...WHITEBOARD, concepts: [{ name: 'Krebs cycle', type: 'topic', importance: 7 }] }],
  ])('rejects %s as AGENT_BAD_OUTPUT', async (_what, input) => {
    fake.script({ kind: 'tool_use', name: 'record_image', input });
    await expect(describeImage(client, settings, { bytes: PNG, mime: 'image/png' })).rejects.toMatchObject({ code: 'AGENT_BAD_OUTPUT' });
  });
});

describe('sniffImageMime', () => {
  it('knows the four formats the API takes by their first bytes', () => {
    expect(sniffImageMime(PNG)).toBe('image/png');
    expect(sniffImageMime(Uint8Array.from(JPEG_HEAD))).toBe('image/jpeg');
    expect(sniffImageMime(new TextEncoder().encode('GIF89a...'))).toBe('image/gif');
    expect(sniffImageMime(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '))).toBe('image/webp');
    expect(sniffImageMime(new TextEncoder().encode('RIFF\0\0\0\0WAVEfmt '))).toBeUndefined();
    expect(sniffImageMime(new Uint8Array(0))).toBeUndefined();
  });
});
