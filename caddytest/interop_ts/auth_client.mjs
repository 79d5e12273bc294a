// An MCP client that authorizes with OAuth client credentials, as the
// TypeScript SDK does it: it sends its first request without a token,
// reads the 401's WWW-Authenticate, discovers the protected resource
// metadata and the authorization server's, gets a token and completes a
// session. It prints what it saw as one JSON line.
//
// Given a tool that needs a scope of its own, it calls that tool last
// (the SDK re-authorizes once on a 403 insufficient_scope) and records
// the result or the error; given a scope, the provider asks for it.
//
// Usage: node auth_client.mjs <mcp url> <client id> <client secret> <issuer> [<scoped tool> [<scope>]]

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { report, TOOL_SIMPLE } from './session.mjs';

const [url, clientId, clientSecret, issuer, scopedTool, scope] = process.argv.slice(2);
const observed = { exchanges: [], tools: [], simpleText: '', scopedResult: '', scopedError: '' };

// fetch that records every exchange: method, URL, status and challenge.
async function recordingFetch(input, init) {
  const resp = await fetch(input, init);
  observed.exchanges.push({
    method: init?.method ?? 'GET',
    url: String(input instanceof Request ? input.url : input),
    status: resp.status,
    wwwAuthenticate: resp.headers.get('www-authenticate') ?? '',
  });
  return resp;
}

async function main() {
  const authProvider = new ClientCredentialsProvider({ clientId, clientSecret, expectedIssuer: issuer, ...(scope ? { scope } : {}) });
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider, fetch: recordingFetch });
  const client = new Client({ name: 'caddytest-auth-ts', version: '0.0.0' });
  await client.connect(transport);
  const { tools } = await client.listTools();
  observed.tools = tools.map((t) => t.name);
  const result = await client.callTool({ name: TOOL_SIMPLE, arguments: {} });
  observed.simpleText = (result.content ?? []).find((c) => c.type === 'text')?.text ?? '';
  if (scopedTool) {
    try {
      const scoped = await client.callTool({ name: scopedTool, arguments: {} });
      observed.scopedResult = JSON.stringify(scoped.content ?? []);
    } catch (err) {
      observed.scopedError = String(err);
    }
  }
  await transport.terminateSession();
  await client.close();
}

report(main, observed);
