// The MCP session both interop clients run, whatever their transport:
// sampling handler, tools/list, a plain call, a call with progress and a call
// that asks for sampling. It records what it sees in `observed`.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';

// Tools of the go-sdk everything-server (conformance/everything-server/main.go).
export const TOOL_SIMPLE = 'test_simple_text';
export const TOOL_PROGRESS = 'test_tool_with_progress';
export const TOOL_SAMPLING = 'test_sampling';

// The first text content of a tool result.
function firstText(result) {
  const item = (result.content ?? []).find((c) => c.type === 'text');
  if (!item) throw new Error(`tool result has no text content: ${JSON.stringify(result)}`);
  return item.text;
}

// newClient returns a client that declares sampling and answers every
// sampling request with samplingReply, recording the prompt it got.
export function newClient(name, observed, samplingReply) {
  const client = new Client({ name, version: '0.0.0' }, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    const content = request.params.messages?.[0]?.content;
    observed.samplingPrompt = content?.type === 'text' ? content.text : JSON.stringify(content);
    return {
      role: 'assistant',
      content: { type: 'text', text: samplingReply },
      model: 'caddytest-fixed',
      stopReason: 'endTurn',
    };
  });
  return client;
}

// runCalls lists the tools and calls the plain, progress and sampling tools
// on a connected client.
export async function runCalls(client, observed, samplingPrompt) {
  const { tools } = await client.listTools();
  observed.tools = tools.map((t) => t.name);

  observed.simpleText = firstText(await client.callTool({ name: TOOL_SIMPLE, arguments: {} }));

  const progressResult = await client.callTool({ name: TOOL_PROGRESS, arguments: {} }, undefined, {
    onprogress: () => {
      observed.progressCount++;
    },
  });
  observed.progressText = firstText(progressResult);

  const samplingResult = await client.callTool({ name: TOOL_SAMPLING, arguments: { prompt: samplingPrompt } });
  observed.samplingText = firstText(samplingResult);
}

// report runs main and prints `observed` as one JSON line (exit 0), or the
// error and what was observed so far (exit 1).
export function report(main, observed) {
  main().then(
    () => {
      process.stdout.write(JSON.stringify(observed) + '\n');
      process.exit(0);
    },
    (err) => {
      console.error(err?.stack ?? String(err));
      console.error('observed so far:', JSON.stringify(observed));
      process.exit(1);
    },
  );
}
