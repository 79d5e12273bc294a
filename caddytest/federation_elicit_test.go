package caddytest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// newAskServer is a go-sdk server whose tool ask asks the client, with
// elicitation/create, for a word, and answers with the server's name and
// what the client said (or the action if it did not accept).
func newAskServer(name string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "ask"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{
			Message: "a word for " + name,
			RequestedSchema: map[string]any{
				"type":       "object",
				"properties": map[string]any{"word": map[string]any{"type": "string"}},
				"required":   []string{"word"},
			},
		})
		if err != nil {
			return nil, nil, err
		}
		text := name + " heard " + res.Action
		if res.Action == "accept" {
			text = fmt.Sprintf("%s heard %v", name, res.Content["word"])
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
	})
	return s
}

// TestFederationElicitation: two go-sdk servers over HTTP behind one
// federated endpoint each ask the client (elicitation/create) from a tool
// call; the go-sdk client's elicitation handler answers each with a word
// made from the message it read, and each tool's result carries the word
// meant for its own server. The calls run at once, so that the two
// servers' requests (whose ids may be the same upstream) are in flight
// together and each answer must go back to the server that asked.
func TestFederationElicitation(t *testing.T) {
	requireIntegration(t)
	var sites []any
	for _, name := range []string{"alpha", "beta"} {
		ts := httptest.NewServer(goSDKHandler(newAskServer(name)))
		defer ts.Close()
		sites = append(sites, caddyfileQuote(ts.URL))
	}
	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		server alpha {
			http %s
		}
		server beta {
			http %s
		}
		federate
	}
}
`, sites...))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		mu    sync.Mutex
		asked []string
	)
	client := mcp.NewClient(&mcp.Implementation{Name: "caddytest-elicit", Version: "0"}, &mcp.ClientOptions{
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			mu.Lock()
			asked = append(asked, req.Params.Message)
			mu.Unlock()
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"word": "word(" + req.Params.Message + ")"}}, nil
		},
	})
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	got := map[string]string{}
	var wg sync.WaitGroup
	for _, name := range []string{"alpha", "beta"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			text, err := federatedCallText(ctx, cs, name+"_ask")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("%s_ask: %v", name, err)
			}
			got[name] = text
		}()
	}
	wg.Wait()
	for _, name := range []string{"alpha", "beta"} {
		if want := name + " heard word(a word for " + name + ")"; got[name] != want {
			t.Errorf("%s_ask: %q, want %q", name, got[name], want)
		}
	}
	if len(asked) != 2 {
		t.Errorf("the client was asked %d times, want 2: %q", len(asked), asked)
	}
}

// federatedCallText is callText for a goroutine, which may not t.Fatal.
func federatedCallText(ctx context.Context, cs *mcp.ClientSession, name string) (string, error) {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name})
	if err != nil {
		return "", err
	}
	if res.IsError || len(res.Content) == 0 {
		return "", fmt.Errorf("result %+v", res)
	}
	tc, _ := res.Content[0].(*mcp.TextContent)
	if tc == nil {
		return "", fmt.Errorf("content %+v", res.Content[0])
	}
	return tc.Text, nil
}
