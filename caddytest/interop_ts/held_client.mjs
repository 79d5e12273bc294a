// A TypeScript SDK client whose tools/call the gateway holds (a pause rule)
// longer than the call's timeout: with resetTimeoutOnProgress, the
// gateway's progress while held keeps it waiting. It prints what it saw as
// one JSON line.
//
// Usage: node held_client.mjs <mcp url> <tool> <timeout ms>

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { report } from './session.mjs';

const [url, tool, timeoutMs] = process.argv.slice(2);
const observed = { progress: [], text: '' };

async function main() {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name: 'caddytest-held-ts', version: '0.0.0' });
  await client.connect(transport);
  const result = await client.callTool({ name: tool, arguments: {} }, CallToolResultSchema, {
    timeout: Number(timeoutMs),
    resetTimeoutOnProgress: true,
    onprogress: (p) => observed.progress.push(p),
  });
  observed.text = (result.content ?? []).find((c) => c.type === 'text')?.text ?? '';
  await transport.terminateSession();
  await client.close();
}

report(main, observed);
