import Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import { CoreError } from '../errors.ts';

export interface ToolSpec<T> {
  name: string;
  description: string;
  schema: z.ZodType<T>;
}

export interface ToolRequest<T> {
  model: string;
  system: string;
  content: Anthropic.MessageParam['content'];
  tool: ToolSpec<T>;
  maxTokens?: number;
  /** Overrides the client's per-request timeout for this call. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ToolResult<T> {
  value: T;
  usage: { inputTokens: number; outputTokens: number };
  /** The model the provider says served the call, which is what the ledger prices. */
  model: string;
}

const DEFAULT_MAX_TOKENS = 4096;
/** Enough of a validation report to act on, short enough for a job's status line. */
const MAX_ISSUES = 3;
const MAX_REPORT_CHARS = 400;

/**
 * The SDK has already retried these with backoff; a job may still try again later, when the
 * overload or rate limit has passed. 408 and 409 are retried by the SDK for the same reason.
 */
function retryableStatus(status: number | undefined): boolean {
  return status === 408 || status === 409 || status === 429 || (status !== undefined && status >= 500);
}

// `instanceof` narrows to APIError<any>, so the status is read back as what it is.
function statusOf(err: object): number | undefined {
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * Whether a failed agent call is worth trying again later: transient API failures and dropped
 * connections, as marked by `callTool` (or still raw from the SDK). Bad output is not: the job
 * decides that separately (see isBadOutput in jobs/agentCall.ts).
 */
export function isRetryable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const marked = (err as { retryable?: unknown }).retryable;
  if (typeof marked === 'boolean') return marked;
  if (err instanceof Anthropic.APIUserAbortError) return false;
  if (err instanceof Anthropic.APIConnectionError) return true;
  if (err instanceof Anthropic.APIError) return retryableStatus(statusOf(err));
  return false;
}

/** The API wants a plain object schema; zod adds a `$schema` key the API does not accept. */
export function toolInputSchema(schema: z.ZodType): Anthropic.Tool.InputSchema {
  // 'input' because the model writes what the schema parses, before any defaults or transforms.
  const json = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  const { $schema: _dropped, ...rest } = json;
  if (rest['type'] !== 'object') throw new CoreError('BAD_INPUT', 'a tool input schema must be an object');
  return rest as Anthropic.Tool.InputSchema;
}

function describeIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, MAX_ISSUES).map((issue) => {
    const at = issue.path.length > 0 ? issue.path.map(String).join('.') : '(input)';
    return `${at}: ${issue.message}`;
  });
  const more = error.issues.length > MAX_ISSUES ? ` (and ${error.issues.length - MAX_ISSUES} more)` : '';
  const report = shown.join('; ') + more;
  return report.length > MAX_REPORT_CHARS ? `${report.slice(0, MAX_REPORT_CHARS)}…` : report;
}

function explainFailure(err: unknown, what: string, signal: AbortSignal | undefined): CoreError {
  if (err instanceof CoreError) return err;
  if (err instanceof Anthropic.APIUserAbortError || signal?.aborted) {
    return new CoreError('CANCELLED', `${what} was cancelled`, { cause: err });
  }
  if (err instanceof Anthropic.AuthenticationError || err instanceof Anthropic.PermissionDeniedError) {
    // A wrong key is fixed in Settings, like a missing one, so the work waits rather than fails for good.
    return new CoreError('NOT_CONFIGURED', `the Anthropic API refused the key (${err.status}: ${err.message}); check ANTHROPIC_API_KEY in Settings`, { cause: err });
  }
  let failure: CoreError;
  if (err instanceof Anthropic.APIConnectionTimeoutError) {
    failure = new CoreError('AGENT_FAILED', `${what} timed out after its retries`, { cause: err });
  } else if (err instanceof Anthropic.APIConnectionError) {
    failure = new CoreError('AGENT_FAILED', `${what} could not reach the Anthropic API after its retries: ${err.message}`, { cause: err });
  } else if (err instanceof Anthropic.APIError) {
    failure = new CoreError('AGENT_FAILED', `${what} failed after its retries (HTTP ${statusOf(err) ?? '?'}: ${err.message})`, { cause: err });
  } else {
    failure = new CoreError('AGENT_FAILED', `${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  // Own property, so the worker protocol carries it across to the core (see serialiseError).
  return Object.assign(failure, { retryable: isRetryable(err) });
}

/**
 * One forced tool call: the model must answer by calling `tool`, and what it passes is validated
 * with the tool's zod schema, so callers get typed data or a CoreError, never unchecked output.
 * Not streamed: structured output is only useful whole, and the SDK's timeout then covers the call.
 */
export async function callTool<T>(client: Anthropic, req: ToolRequest<T>): Promise<ToolResult<T>> {
  const { tool } = req;
  const what = `the ${tool.name} call`;
  let message: Anthropic.Message;
  try {
    message = await client.messages.create(
      {
        model: req.model,
        max_tokens: req.maxTokens ?? DEFAULT_MAX_TOKENS,
        system: req.system,
        messages: [{ role: 'user', content: req.content }],
        tools: [{ name: tool.name, description: tool.description, input_schema: toolInputSchema(tool.schema) }],
        tool_choice: { type: 'tool', name: tool.name },
      },
      {
        ...(req.timeoutMs !== undefined ? { timeout: req.timeoutMs } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      },
    );
  } catch (err) {
    throw explainFailure(err, what, req.signal);
  }

  const usage = { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens };
  const block = message.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
  if (!block) {
    const said = message.content.find((b): b is Anthropic.TextBlock => b.type === 'text')?.text ?? '';
    const excerpt = said.length > 120 ? `${said.slice(0, 120)}…` : said;
    throw new CoreError('AGENT_BAD_OUTPUT', `the model did not call ${tool.name} (stop reason ${message.stop_reason ?? 'none'})${excerpt ? `; it said: "${excerpt}"` : ''}`);
  }
  if (block.name !== tool.name) {
    throw new CoreError('AGENT_BAD_OUTPUT', `the model called ${block.name} instead of ${tool.name}`);
  }
  const parsed = tool.schema.safeParse(block.input);
  if (!parsed.success) {
    // A cut-off answer fails validation too; saying so points at max_tokens rather than the prompt.
    const cut = message.stop_reason === 'max_tokens' ? ' (the answer hit max_tokens and was cut off)' : '';
    throw new CoreError('AGENT_BAD_OUTPUT', `${tool.name} input is invalid${cut}: ${describeIssues(parsed.error)}`);
  }
  return { value: parsed.data, usage, model: message.model };
}
