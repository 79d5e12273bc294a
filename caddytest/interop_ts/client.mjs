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

import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { newClient, report, runCalls, TOOL_PROGRESS } from './session.mjs';

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
  const client = newClient('caddy-mcp-caddytest-ts', observed, samplingReply);

  await client.connect(transport);
  observed.protocolVersion = transport.protocolVersion ?? '';
  observed.sessionId = transport.sessionId ?? '';

  await runCalls(client, observed, samplingPrompt);

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

report(main, observed);
