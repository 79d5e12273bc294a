package stdio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// serverModeEnv makes the test binary act as a stdio MCP server: a real
// go-sdk server for the happy paths, or a misbehaving one for faults.
const serverModeEnv = "CADDY_MCP_UPSTREAM_TEST_SERVER"

func TestMain(m *testing.M) {
	switch os.Getenv(serverModeEnv) {
	case "":
		goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction(pool.SpawnerFunction))
	case "gosdk":
		runGoSDKServer(nil)
	case "gosdk-legacy":
		// A go-sdk server that serves only the 2025 revisions.
		runGoSDKServer(&mcp.ServerOptions{SupportedProtocolVersions: []string{"2025-11-25", "2025-06-18"}})
	case "echo-late":
		// Lets its stdin pipe fill for a moment, then echoes every line
		// back: a sender meets a full pipe and short writes (sendq_test.go).
		time.Sleep(200 * time.Millisecond)
		_, _ = io.Copy(os.Stdout, os.Stdin)
		os.Exit(0)
	case "stall":
		// Never reads its stdin: the pipe fills and stays full.
		time.Sleep(time.Hour)
		os.Exit(0)
	case "silent":
		// Reads everything, answers nothing, exits at EOF.
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	case "garbage":
		// Non-JSON noise and an oversized line before a valid message.
		fmt.Println("this is not JSON")
		fmt.Println(`{"jsonrpc":"2.0","method":"notifications/` + strings.Repeat("x", 4096) + `"}`)
		fmt.Println(`{"jsonrpc":"2.0","method":"notifications/hello"}`)
		select {} // until stopped
	case "ambiguous":
		// Answers the first request with a result whose members parsers
		// read differently, then stays up without a word more.
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.NewDecoder(os.Stdin).Decode(&req)
		fmt.Println(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":{"content":[],"Content":[{"type":"text","text":"x"}]}}`)
		select {} // until stopped
	case "crash":
		// Reads one message, then dies without answering it.
		buf := make([]byte, 1)
		_, _ = os.Stdin.Read(buf)
		os.Exit(3)
	}
}

// markerEnv names a file the go-sdk test server appends a line to when the
// slow tool sees its context cancelled.
const markerEnv = "CADDY_MCP_UPSTREAM_TEST_MARKER"

func runGoSDKServer(opts *mcp.ServerOptions) {
	s := mcp.NewServer(&mcp.Implementation{Name: "upstream-test", Version: "1"}, opts)
	type echoArgs struct {
		Text string `json:"text"`
	}
	text := func(s string) *mcp.CallToolResult {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, a echoArgs) (*mcp.CallToolResult, any, error) {
		return text(a.Text), nil, nil
	})
	// progress sends N progress notifications carrying the text, then
	// answers with the text.
	type progressArgs struct {
		Text string `json:"text"`
		N    int    `json:"n"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "progress"}, func(ctx context.Context, req *mcp.CallToolRequest, a progressArgs) (*mcp.CallToolResult, any, error) {
		if tok := req.Params.GetProgressToken(); tok != nil {
			for i := range a.N {
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i + 1), Total: float64(a.N), Message: a.Text})
			}
		}
		return text(a.Text), nil, nil
	})
	// slow reports progress once, then waits for its cancellation and
	// records it in the marker file.
	mcp.AddTool(s, &mcp.Tool{Name: "slow"}, func(ctx context.Context, req *mcp.CallToolRequest, a echoArgs) (*mcp.CallToolResult, any, error) {
		if tok := req.Params.GetProgressToken(); tok != nil {
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Message: "started " + a.Text})
		}
		select {
		case <-ctx.Done():
		case <-time.After(30 * time.Second):
			return text("not cancelled " + a.Text), nil, nil
		}
		if path := os.Getenv(markerEnv); path != "" {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err == nil {
				_, _ = fmt.Fprintf(f, "cancelled %s\n", a.Text)
				_ = f.Close()
			}
		}
		return nil, nil, ctx.Err()
	})
	mcp.AddTool(s, &mcp.Tool{Name: "crash"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		os.Exit(4)
		return nil, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "pid"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return text(strconv.Itoa(os.Getpid())), nil, nil
	})
	// add_tool adds a tool, which makes the server announce list_changed.
	type addArgs struct {
		Name string `json:"name"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "add_tool"}, func(_ context.Context, _ *mcp.CallToolRequest, a addArgs) (*mcp.CallToolResult, any, error) {
		mcp.AddTool(s, &mcp.Tool{Name: a.Name}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return text(a.Name), nil, nil
		})
		return text("added " + a.Name), nil, nil
	})
	if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// recorder is a Receiver that collects what the server sends.
type recorder struct {
	mu     sync.Mutex
	msgs   []*pipeline.Message
	got    chan struct{}
	closed chan error
}

func newRecorder() *recorder {
	return &recorder{got: make(chan struct{}, 100), closed: make(chan error, 1)}
}

func (r *recorder) Deliver(m *pipeline.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	r.got <- struct{}{}
}

func (r *recorder) Closed(err error) { r.closed <- err }

func (r *recorder) next(t *testing.T) *pipeline.Message {
	t.Helper()
	select {
	case <-r.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no message from the server within 10s")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs[0]
	r.msgs = r.msgs[1:]
	return m
}

func newTestStdio(t *testing.T, mode string, maxProcesses int) *Upstream {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := pool.New(pool.Config{
		Command:        self,
		Env:            map[string]string{serverModeEnv: mode},
		MaxProcesses:   maxProcesses,
		Warm:           pool.NoWarm,
		StopTimeout:    500 * time.Millisecond,
		AcquireTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := New(p, 1024, nil)
	t.Cleanup(func() {
		p.Close()
		s.Close()
		p.Wait()
		s.Wait()
	})
	return s
}

func mustParse(t *testing.T, s string) *pipeline.Message {
	t.Helper()
	m, err := pipeline.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStdioRoundTripWithGoSDKServer(t *testing.T) {
	s := newTestStdio(t, "gosdk", 2)
	rec := newRecorder()
	conn, err := s.Open(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	send := func(raw string) {
		if err := conn.Send(ctx, mustParse(t, raw)); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"jsonrpc":"2.0","id":"init-1","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if m := rec.next(t); string(m.ID) != `"init-1"` || m.ResultProtocolVersion() != "2025-06-18" {
		t.Fatalf("initialize response: %s", m.Raw)
	}
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello through stdio"}}}`)
	m := rec.next(t)
	if string(m.ID) != "7" || !strings.Contains(string(m.Result), "hello through stdio") {
		t.Fatalf("tools/call response: %s", m.Raw)
	}
	// A pretty-printed message (as curl users send) still travels as one
	// line; a newline inside a string is an escape, never a raw newline.
	send("{\n  \"jsonrpc\": \"2.0\",\r\n  \"id\": 8,\n  \"method\": \"tools/call\",\n  \"params\": {\"name\": \"echo\", \"arguments\": {\"text\": \"two\\nlines\"}}\n}")
	m = rec.next(t)
	if string(m.ID) != "8" || !strings.Contains(string(m.Result), `two\nlines`) {
		t.Fatalf("pretty-printed tools/call response: %s", m.Raw)
	}
}

func TestStdioSkipsGarbageAndOversizedLines(t *testing.T) {
	s := newTestStdio(t, "garbage", 1)
	rec := newRecorder()
	conn, err := s.Open(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if m := rec.next(t); m.Method != "notifications/hello" {
		t.Fatalf("first delivered message should be the valid one, got %s", m.Raw)
	}
}

// TestStdioAmbiguousAnswerStandsIn: an answer the gateway refuses because
// parsers would read it differently is not dropped, leaving the request
// to time out: the request gets an error answer at once.
func TestStdioAmbiguousAnswerStandsIn(t *testing.T) {
	s := newTestStdio(t, "ambiguous", 1)
	rec := newRecorder()
	conn, err := s.Open(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if m := rec.next(t); string(m.ID) != "5" || m.Error == nil || !strings.Contains(string(m.Error), `duplicate member \"content\"`) {
		t.Fatalf("the request got %s, want an error answer to id 5 naming the member", m.Raw)
	}
}

func TestStdioCrashReportsClosed(t *testing.T) {
	s := newTestStdio(t, "crash", 1)
	rec := newRecorder()
	conn, err := s.Open(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Send(context.Background(), mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-rec.closed:
		if !strings.Contains(err.Error(), "exit status 3") {
			t.Errorf("Closed error should name the exit status, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Closed was not called after the process died")
	}
	if err := conn.Send(context.Background(), mustParse(t, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)); !errors.Is(err, upstream.ErrClosed) {
		t.Errorf("Send after the crash: got %v, want ErrClosed", err)
	}
}

func TestStdioCloseIsNotReportedAsCrash(t *testing.T) {
	s := newTestStdio(t, "gosdk", 1)
	rec := newRecorder()
	conn, err := s.Open(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	s.Wait()
	select {
	case err := <-rec.closed:
		t.Fatalf("Closed called after our own Close: %v", err)
	default:
	}
}

func TestStdioOpenErrors(t *testing.T) {
	t.Run("pool full is busy", func(t *testing.T) {
		s := newTestStdio(t, "gosdk", 1)
		conn, err := s.Open(context.Background(), newRecorder())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = s.Open(context.Background(), newRecorder())
		var busy *upstream.BusyError
		if !errors.As(err, &busy) || busy.RetryAfter <= 0 {
			t.Fatalf("want *BusyError with a retry hint, got %v", err)
		}
	})
	t.Run("closed pool is busy", func(t *testing.T) {
		s := newTestStdio(t, "gosdk", 1)
		s.Pool().Close()
		_, err := s.Open(context.Background(), newRecorder())
		if !errors.Is(err, upstream.ErrBusy) {
			t.Fatalf("want ErrBusy, got %v", err)
		}
	})
	t.Run("missing command", func(t *testing.T) {
		p, err := pool.New(pool.Config{Command: "/nonexistent/mcp-server", Warm: pool.NoWarm})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { p.Close(); p.Wait() }()
		_, err = New(p, 1024, nil).Open(context.Background(), newRecorder())
		if !errors.Is(err, pool.ErrSpawn) || !strings.Contains(err.Error(), "/nonexistent/mcp-server") {
			t.Fatalf("want ErrSpawn naming the command, got %v", err)
		}
	})
}
