#!/usr/bin/env node
// Federation client: drives a federated MCP endpoint over Streamable HTTP
// with the official TypeScript SDK and prints one JSON object with what it
// saw: every list (all pages) and the answers to the calls it was asked to
// make. Used by federation_ts_test.go; the Go test decides what is right.
//
//   node interop_ts/federation_client.mjs URL PLAN_JSON
//
// PLAN_JSON is {"tools": [{"name", "arguments"}], "prompts": [name],
// "resources": [uri]}. Exits 0 after printing the JSON object on stdout; on
// any error prints it on stderr and exits 1.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { report } from './session.mjs';

const [url, planJSON] = process.argv.slice(2);
if (!url || !planJSON) {
  console.error('usage: node federation_client.mjs URL PLAN_JSON');
  process.exit(2);
}
const plan = JSON.parse(planJSON);

const observed = {
  serverName: '',
  tools: [],
  prompts: [],
  resources: [],
  calls: {},
  promptTexts: {},
  resourceTexts: {},
};

// listAll follows nextCursor so that a paginated merge is read whole.
async function listAll(list, key) {
  const items = [];
  let cursor;
  do {
    const page = await list(cursor ? { cursor } : undefined);
    items.push(...page[key]);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

function texts(content) {
  return (content ?? []).filter((c) => c?.type === 'text').map((c) => c.text).join('\n');
}

async function main() {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name: 'caddytest-federation-ts', version: '0.0.0' });
  await client.connect(transport);
  observed.serverName = client.getServerVersion()?.name ?? '';

  observed.tools = (await listAll((p) => client.listTools(p), 'tools')).map((t) => t.name);
  observed.prompts = (await listAll((p) => client.listPrompts(p), 'prompts')).map((p) => p.name);
  observed.resources = (await listAll((p) => client.listResources(p), 'resources')).map((r) => r.uri);

  for (const { name, arguments: args } of plan.tools ?? []) {
    const res = await client.callTool({ name, arguments: args ?? {} });
    observed.calls[name] = (res.isError ? 'ERROR: ' : '') + texts(res.content);
  }
  for (const name of plan.prompts ?? []) {
    const res = await client.getPrompt({ name });
    observed.promptTexts[name] = res.messages.map((m) => (m.content?.type === 'text' ? m.content.text : '')).join('\n');
  }
  for (const uri of plan.resources ?? []) {
    const res = await client.readResource({ uri });
    observed.resourceTexts[uri] = res.contents.map((c) => c.text ?? '').join('\n');
  }

  await transport.terminateSession();
  await client.close();
}

report(main, observed);
