package caddytest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestStatelessClientsDoNotCross runs many go-sdk clients at their default
// revision (2026-07-28, stateless) at once through the proxy to one stdio
// upstream, whose few shared processes serve them all through the JSON-RPC
// mux. Every client numbers its requests from 1, so the ids collide at the
// upstream; each answer must still reach the client that asked.
func TestStatelessClientsDoNotCross(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, stdioProxySite(bin, "protocol modern", "shared 2")) + "/mcp"
	const clients, calls = 16, 8
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, clients*calls)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := mcp.NewClient(&mcp.Implementation{Name: fmt.Sprintf("stateless-%d", c), Version: "0"}, nil)
			cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
			if err != nil {
				errs <- fmt.Errorf("client %d: connect: %v", c, err)
				return
			}
			defer cs.Close()
			if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
				errs <- fmt.Errorf("client %d negotiated %q, want 2026-07-28", c, v)
				return
			}
			for i := range calls {
				arg1, arg2 := fmt.Sprintf("client-%d", c), fmt.Sprintf("call-%d", i)
				res, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "test_prompt_with_arguments",
					Arguments: map[string]string{"arg1": arg1, "arg2": arg2}})
				if err != nil {
					errs <- fmt.Errorf("client %d call %d: %v", c, i, err)
					return
				}
				want := fmt.Sprintf("Prompt with arguments: arg1='%s', arg2='%s'", arg1, arg2)
				if len(res.Messages) == 0 {
					errs <- fmt.Errorf("client %d call %d: no messages", c, i)
					return
				}
				if tc, ok := res.Messages[0].Content.(*mcp.TextContent); !ok || tc.Text != want {
					errs <- fmt.Errorf("client %d call %d got another client's answer: %+v", c, i, res.Messages[0].Content)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestInputRequiredResultRoundTrip runs a 2026-07-28 multi-round-trip call
// through the proxy: the server answers tools/call with an
// InputRequiredResult (an elicitation request and an opaque requestState),
// the go-sdk client answers it with its elicitation handler and retries with
// the state copied back, and the server — which checks the state's
// integrity — completes. The proxy must carry both rounds byte for byte,
// over stdio and over HTTP.
func TestInputRequiredResultRoundTrip(t *testing.T) {
	bin := buildEverythingServer(t)
	for _, site := range []struct{ name, site string }{
		{"stdio", stdioProxySite(bin, "protocol modern")},
		{"http", httpProxySite(startEverythingServer(t, false))},
	} {
		t.Run(site.name, func(t *testing.T) {
			url := startProxy(t, site.site) + "/mcp"
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var elicited atomic.Int32
			client := mcp.NewClient(&mcp.Implementation{Name: "mrtr", Version: "0"}, &mcp.ClientOptions{
				ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
					elicited.Add(1)
					return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"ok": true}}, nil
				},
			})
			cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
				t.Fatalf("negotiated %q", v)
			}
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_input_required_result_request_state"})
			if err != nil {
				t.Fatal(err)
			}
			if elicited.Load() != 1 {
				t.Errorf("the elicitation handler ran %d times, want 1 (the input-required round)", elicited.Load())
			}
			if len(res.Content) == 0 {
				t.Fatalf("no content: %+v", res)
			}
			if tc, ok := res.Content[0].(*mcp.TextContent); !ok || tc.Text != "state-ok: requestState received and confirmation accepted" {
				t.Fatalf("final round: %+v", res.Content[0])
			}
		})
	}
}

// TestSubscriptionsListen: a 2026-07-28 go-sdk client with a tool-list
// handler opens subscriptions/listen when it connects; a tool call that
// changes the server's tools must reach it on that stream, through a stdio
// upstream (one shared process: the listen and the call must meet the same
// server instance) and through an HTTP one.
func TestSubscriptionsListen(t *testing.T) {
	bin := buildEverythingServer(t)
	for _, site := range []struct{ name, site string }{
		{"stdio", stdioProxySite(bin, "protocol modern", "shared 1")},
		{"http", httpProxySite(startEverythingServer(t, false))},
	} {
		t.Run(site.name, func(t *testing.T) {
			url := startProxy(t, site.site) + "/mcp"
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			changed := make(chan struct{}, 1)
			client := mcp.NewClient(&mcp.Implementation{Name: "listen", Version: "0"}, &mcp.ClientOptions{
				ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
					select {
					case changed <- struct{}{}:
					default:
					}
				},
			})
			cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
				t.Fatalf("negotiated %q", v)
			}
			if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "test_trigger_tool_change"}); got != "tools_list_changed published" {
				t.Fatalf("trigger: %q", got)
			}
			select {
			case <-changed:
			case <-ctx.Done():
				t.Fatal("notifications/tools/list_changed never arrived on the listen stream")
			}
		})
	}
}
