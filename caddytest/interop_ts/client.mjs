#!/usr/bin/env node
// Interop client: drives an MCP server over Streamable HTTP with the official
// TypeScript SDK (@modelcontextprotocol/sdk, pinned in ../package.json) and
// prints one JSON object with what it observed. Used by interop_test.go
// against the go-sdk conformance everything-server, directly and behind
// mcp_proxy.
//
//   node interop_ts/client.mjs URL [SAMPLING_PROMPT [SAMPLING_REPLY]]
//
// Exits 0 after printing the JSON object on stdout; on any error prints the
// error on stderr and exits 1.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';

// Tools of the go-sdk everything-server (conformance/everything-server/main.go).
const TOOL_SIMPLE = 'test_simple_text';
const TOOL_PROGRESS = 'test_tool_with_progress';
const TOOL_SAMPLING = 'test_sampling';

const [url, samplingPrompt = 'caddytest sampling prompt', samplingReply = 'caddytest fixed assistant reply'] =
  process.argv.slice(2);
if (!url) {
  console.error('usage: node client.mjs URL [SAMPLING_PROMPT [SAMPLING_REPLY]]');
  process.exit(2);
}

const observed = {
  protocolVersion: '',
  sessionId: '',
  tools: [],
  simpleText: '',
  progressToken: '',
  progressText: '',
  progressCount: 0,
  samplingPrompt: '',
  samplingText: '',
  deleteStatus: 0,
  postAfterDeleteStatus: 0,
};

// The first text content of a tool result.
function firstText(result) {
  const item = (result.content ?? []).find((c) => c.type === 'text');
  if (!item) throw new Error(`tool result has no text content: ${JSON.stringify(result)}`);
  return item.text;
}

// A fetch that records the DELETE's status and the progress token the SDK
// puts on the wire for the progress tool.
async function recordingFetch(input, init = {}) {
  if (init.method === 'POST' && typeof init.body === 'string') {
    try {
      const msg = JSON.parse(init.body);
      if (msg.method === 'tools/call' && msg.params?.name === TOOL_PROGRESS) {
        observed.progressToken = String(msg.params?._meta?.progressToken ?? '');
      }
    } catch {
      // Not a single JSON-RPC message; nothing to record.
    }
  }
  const res = await fetch(input, init);
  if (init.method === 'DELETE') observed.deleteStatus = res.status;
  return res;
}

async function main() {
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: recordingFetch });
  const client = new Client(
    { name: 'caddy-mcp-caddytest-ts', version: '0.0.0' },
    { capabilities: { sampling: {} } },
  );
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

  await client.connect(transport);
  observed.protocolVersion = transport.protocolVersion ?? '';
  observed.sessionId = transport.sessionId ?? '';

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

  await transport.terminateSession(); // HTTP DELETE
  await client.close();

  // The terminated session must be gone: a request on it gets 404.
  if (observed.sessionId) {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': observed.sessionId,
        'Mcp-Protocol-Version': observed.protocolVersion,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    await res.body?.cancel();
    observed.postAfterDeleteStatus = res.status;
  }
}

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
