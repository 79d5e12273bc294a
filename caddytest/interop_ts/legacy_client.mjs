#!/usr/bin/env node
// Legacy interop client: drives an MCP server over the 2024-11-05 HTTP+SSE
// transport with the official TypeScript SDK's SSEClientTransport
// (@modelcontextprotocol/sdk, pinned in ../package.json) and prints one JSON
// object with what it observed. Used by legacy_test.go against the go-sdk
// conformance everything-server behind mcp_proxy.
//
//   node interop_ts/legacy_client.mjs URL [PROTOCOL_VERSION [SAMPLING_PROMPT [SAMPLING_REPLY]]]
//
// The SDK always asks for its newest revision in initialize; PROTOCOL_VERSION
// ("" for that default) rewrites the request on the wire, e.g. to 2024-11-05.
// Exits 0 after printing the JSON object on stdout; on any error prints the
// error on stderr and exits 1.

import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { newClient, report, runCalls } from './session.mjs';

const [url, forcedVersion = '', samplingPrompt = 'caddytest sampling prompt', samplingReply = 'caddytest fixed assistant reply'] =
  process.argv.slice(2);
if (!url) {
  console.error('usage: node legacy_client.mjs URL [PROTOCOL_VERSION [SAMPLING_PROMPT [SAMPLING_REPLY]]]');
  process.exit(2);
}

const observed = {
  protocolVersion: '',
  getStatus: 0,
  getContentType: '',
  endpoint: '',
  sessionId: '',
  postStatuses: [],
  tools: [],
  simpleText: '',
  progressCount: 0,
  progressText: '',
  samplingPrompt: '',
  samplingText: '',
  postAfterCloseStatus: 0,
};

// The POSTs still in flight.
const posts = new Set();

// A fetch that records the GET stream's answer, the endpoint the SDK POSTs
// to and every POST's status, and rewrites initialize's protocolVersion
// when one is forced.
async function recordingFetch(input, init = {}) {
  const method = init.method ?? 'GET';
  if (method === 'POST' && typeof init.body === 'string' && forcedVersion) {
    const msg = JSON.parse(init.body);
    if (msg.method === 'initialize') {
      msg.params.protocolVersion = forcedVersion;
      init = { ...init, body: JSON.stringify(msg) };
    }
  }
  const pending = fetch(input, init);
  if (method === 'POST') {
    // The SDK does not await every POST (a notification, the answer to a
    // server request): main waits for all of them before it reports.
    posts.add(pending);
    pending.finally(() => posts.delete(pending)).catch(() => {});
  }
  const res = await pending;
  if (method === 'GET') {
    observed.getStatus = res.status;
    observed.getContentType = res.headers.get('content-type') ?? '';
  } else if (method === 'POST') {
    const u = new URL(String(input instanceof Request ? input.url : input));
    observed.endpoint = u.href;
    observed.sessionId = u.searchParams.get('sessionId') ?? '';
    observed.postStatuses.push(res.status);
  }
  return res;
}

async function main() {
  const transport = new SSEClientTransport(new URL(url), { fetch: recordingFetch });
  const setProtocolVersion = transport.setProtocolVersion.bind(transport);
  transport.setProtocolVersion = (v) => {
    observed.protocolVersion = v;
    setProtocolVersion(v);
  };
  const client = newClient('caddy-mcp-caddytest-ts-legacy', observed, samplingReply);

  await client.connect(transport);

  await runCalls(client, observed, samplingPrompt);
  while (posts.size > 0) {
    await Promise.allSettled([...posts]);
  }

  // Closing the SSE stream ends the session: a POST to its endpoint then
  // gets 404 (after the server noticed the close).
  await client.close();
  if (observed.endpoint) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const res = await fetch(observed.endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 'after-close', method: 'ping' }),
      });
      await res.body?.cancel();
      observed.postAfterCloseStatus = res.status;
      if (res.status !== 202 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

report(main, observed);
