package stdio

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestPingReadyGoSDKServer: a real go-sdk server, before initialize, answers
// the readiness ping; the check consumes exactly that answer, and the server
// then initializes normally on the same pipes.
func TestPingReadyGoSDKServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	srv := mcp.NewServer(&mcp.Implementation{Name: "ready-test", Version: "1"}, nil)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, &mcp.IOTransport{Reader: inR, Writer: outW}) }()
	defer func() {
		inW.Close()
		cancel()
		<-done
		outW.Close()
	}()

	if err := PingReady(1<<20)(inW, outR); err != nil {
		t.Fatalf("readiness check: %v", err)
	}
	if _, err := io.WriteString(inW, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`+"\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, `"id":1`) || !strings.Contains(line, `"protocolVersion"`) {
		t.Errorf("after the check the first line is %q, want the initialize result", line)
	}
}

// TestPingReadyLines: what a check accepts and refuses, on scripted output.
func TestPingReadyLines(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, out string
		wantErr   error // nil: ready; errAny: some error
		rest      string
	}{
		{"result", `{"jsonrpc":"2.0","id":"caddy-mcp-ready","result":{}}` + "\nnext\n", nil, "next\n"},
		{"error answer counts", `{"jsonrpc":"2.0","id":"caddy-mcp-ready","error":{"code":-32601,"message":"no"}}` + "\n", nil, ""},
		{"banner first", "starting server...\n{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n" +
			`{"jsonrpc":"2.0","id":"caddy-mcp-ready","result":{}}` + "\n", nil, ""},
		{"other id", `{"jsonrpc":"2.0","id":"x","result":{}}` + "\n", errNoPong, ""},
		{"exits", "", errNoPong, ""},
		{"line too long", strings.Repeat("x", 300) + "\n", errAny, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdin strings.Builder
			out := strings.NewReader(c.out)
			err := PingReady(256)(&stdin, out)
			switch {
			case c.wantErr == nil && err != nil:
				t.Fatalf("err = %v, want ready", err)
			case c.wantErr == errAny && err == nil:
				t.Fatal("ready, want an error")
			case c.wantErr != nil && c.wantErr != errAny && !errors.Is(err, c.wantErr):
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if got := stdin.String(); got != string(readyPing) {
				t.Errorf("sent %q, want the ping", got)
			}
			if rest, _ := io.ReadAll(out); c.wantErr == nil && string(rest) != c.rest {
				t.Errorf("left %q unread, want %q", rest, c.rest)
			}
		})
	}
}

var errAny = errors.New("any error")
