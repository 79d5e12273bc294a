// Package caddytest holds caddy-mcp's integration, interop and benchmark
// suites: tests that run Caddy in-process with the mcp_proxy module (through
// github.com/caddyserver/caddy/v2/caddytest) and talk to it with real MCP
// peers that nobody on this project wrote — the go-sdk client and its
// conformance everything-server, the official conformance suite, and the
// TypeScript SDK.
//
// The npm peers are pinned in package.json and package-lock.json beside this
// file; run `npm ci` here (the repository's test.sh does) before `go test`.
// Without them the tests that need them skip locally and fail when CI is set.
//
// The shared harness is in a few files by concern; the feature files hold
// only their tests and the helpers of their feature:
//   - harness_test.go: TestMain, the ports, startProxy (the one way to load a
//     config into the in-process Caddy) and the site blocks;
//   - conns_test.go: the tests' HTTP transport, renewed at each config load;
//   - clients_test.go: raw HTTP requests, go-sdk client calls, the admin API
//     and the metrics endpoint;
//   - servers_test.go and peers_test.go: the upstream MCP servers (go-sdk, and
//     the npm peers and conformance suite);
//   - children_test.go: the child processes of the test binary;
//   - waits_test.go: waits on a condition with a deadline.
//
// Only one Caddy runs per test binary, on admin, HTTP and HTTPS ports picked
// free when the binary starts (testPorts): tests in this package never run in
// parallel with each other, but test binaries (and packages) may run at once.
package caddytest

import (
	// Register every caddy-mcp module for the in-process Caddy.
	_ "github.com/caddy-mcp/caddy-mcp"
)
