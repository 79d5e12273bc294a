package caddytest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// This file runs the quick command, `caddy mcp-proxy`, as a process of its
// own, the way a user without a Caddyfile does.

// proxyCommand is a running `caddy mcp-proxy`.
type proxyCommand struct {
	cmd      *exec.Cmd
	output   *syncBuffer   // stderr: Caddy's logs
	endpoint chan string   // the URL of the "MCP endpoint: " line, once
	stdout   chan struct{} // closed when stdout ends
	exited   chan struct{} // closed once the process was waited for
	err      error         // Wait's result, set before exited closes
}

// startProxyCommand runs the built caddy with `mcp-proxy` and args until
// the test ends.
func startProxyCommand(t *testing.T, args ...string) *proxyCommand {
	t.Helper()
	requireIntegration(t)
	bin := buildCaddy(t)
	dir := t.TempDir()
	p := &proxyCommand{output: &syncBuffer{}, endpoint: make(chan string, 1), stdout: make(chan struct{}), exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"mcp-proxy"}, args...)...)
	p.cmd.Env = caddyEnv(dir)
	p.cmd.Stderr = p.output
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start caddy mcp-proxy: %v", err)
	}
	// The reader ends at the end of stdout, when the process is gone; the
	// cleanup waits for it.
	go func() {
		defer close(p.stdout)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.output.Write([]byte("stdout: " + sc.Text() + "\n"))
			if url, ok := strings.CutPrefix(sc.Text(), "MCP endpoint: "); ok {
				select {
				case p.endpoint <- url:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		<-p.stdout // Wait closes the pipe: read it all first
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	stopAtCleanup(t, p.cmd, p.exited, "caddy mcp-proxy", p.output)
	return p
}

// waitEndpoint waits for the printed endpoint URL.
func (p *proxyCommand) waitEndpoint(t *testing.T) string {
	t.Helper()
	select {
	case url := <-p.endpoint:
		return url
	case <-p.exited:
		t.Fatalf("caddy mcp-proxy exited before printing its endpoint: %v\n%s", p.err, p.output.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("caddy mcp-proxy printed no endpoint in 30s:\n%s", p.output.String())
	}
	return ""
}

// stop sends SIGTERM and checks that the process exits cleanly within the
// child stop sequence, leaving none of children running.
func (p *proxyCommand) stop(t *testing.T, children []int) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(exitBound):
		t.Fatalf("caddy mcp-proxy still running %v after SIGTERM; children: %v", exitBound, alive(children))
	}
	t.Logf("caddy mcp-proxy exited %v after SIGTERM (%v); %d children", time.Since(start).Round(time.Millisecond), p.err, len(children))
	if p.err != nil {
		t.Errorf("caddy mcp-proxy exited with %v", p.err)
	}
	if left := alive(children); len(left) > 0 {
		t.Errorf("children left after caddy mcp-proxy exited: %v", left)
	}
}

// callThrough connects a go-sdk client to url (at protocol version, or the
// client's default when empty), calls test_simple_text, and leaves the
// session open (with its standalone GET stream) until the test ends.
func callThrough(t *testing.T, url, version string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var opts *mcp.ClientSessionOptions
	if version != "" {
		opts = &mcp.ClientSessionOptions{ProtocolVersion: version}
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-command", Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: url}, opts)
	if err != nil {
		t.Fatalf("connect to %s (version %q): %v", url, version, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: toolSimpleText})
	if err != nil {
		t.Fatalf("%s (version %q): %v", toolSimpleText, version, err)
	}
	if res.IsError || len(res.Content) != 1 {
		t.Fatalf("%s (version %q) answered %+v", toolSimpleText, version, res)
	}
	text, ok := res.Content[0].(*mcp.TextContent)
	if !ok || text.Text == "" {
		t.Fatalf("%s (version %q) answered %#v", toolSimpleText, version, res.Content[0])
	}
	t.Logf("version %q: %s answered %q", version, toolSimpleText, text.Text)
}

// TestProxyCommandStdio: `caddy mcp-proxy --to <stdio server>` prints its
// endpoint, serves go-sdk clients of the 2025-11-25 and the default
// (2026-07-28) revision through the stdio server, and on SIGTERM, with
// both clients still connected, exits cleanly with every child reaped.
func TestProxyCommandStdio(t *testing.T) {
	server := buildEverythingServer(t)
	addr := freeLoopbackAddr(t)
	// The quoting rules of --to: a path with a space would need them; this
	// one has none, but its quoting must come off.
	p := startProxyCommand(t, "--from", addr, "--to", `'`+server+`'`, "--warm", "2", "--max-processes", "6")
	url := p.waitEndpoint(t)
	if want := "http://" + addr + "/mcp"; url != want {
		t.Fatalf("printed endpoint %q, want %q", url, want)
	}
	callThrough(t, url, "2025-11-25")
	callThrough(t, url, "")
	children := childrenOf(t, p.cmd.Process.Pid)
	killLeftoversAtCleanup(t, children)
	if len(children) < 2 { // the warm spares, at least
		t.Fatalf("only %d children with --warm 2: %v", len(children), alive(children))
	}
	p.stop(t, children)
}

// TestProxyCommandHTTP: `caddy mcp-proxy --to http://…` forwards to a
// Streamable HTTP server, at a --path of its own.
func TestProxyCommandHTTP(t *testing.T) {
	upstream := startEverythingServerHTTP(t)
	addr := freeLoopbackAddr(t)
	p := startProxyCommand(t, "--from", addr, "--to", upstream, "--path", "/gateway/mcp")
	url := p.waitEndpoint(t)
	if want := "http://" + addr + "/gateway/mcp"; url != want {
		t.Fatalf("printed endpoint %q, want %q", url, want)
	}
	callThrough(t, url, "2025-11-25")
	callThrough(t, url, "")
	// Any other path is a clear 404, not Caddy's empty 200.
	resp := rawRequest(t, http.MethodPost, "http://"+addr+"/mcp", "{}", nil)
	if body := readAll(t, resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "the MCP endpoint is at /gateway/mcp") {
		t.Errorf("POST /mcp, not the endpoint: %d %q", resp.StatusCode, body)
	}
	p.stop(t, nil)
}

// TestProxyCommandBadTo: what an operator sees for a --to the command
// cannot use: a failed start, and the reason.
func TestProxyCommandBadTo(t *testing.T) {
	for _, tc := range []struct {
		name, to, says string
	}{
		{"user info", "https://me:secret@mcp.example.com/mcp", "the URL has user info"},
		{"unterminated quote", `node 'server.js`, "unterminated ' quote"},
		{"empty", "", "--to is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxyCommand(t, "--from", freeLoopbackAddr(t), "--to", tc.to)
			select {
			case <-p.exited:
			case <-time.After(30 * time.Second):
				t.Fatalf("caddy mcp-proxy --to %q still running after 30s:\n%s", tc.to, p.output.String())
			}
			var exit *exec.ExitError
			if !errors.As(p.err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("exit %v, want status 1 (failed startup)", p.err)
			}
			if out := p.output.String(); !strings.Contains(out, tc.says) {
				t.Errorf("output does not say %q:\n%s", tc.says, out)
			}
		})
	}
}
