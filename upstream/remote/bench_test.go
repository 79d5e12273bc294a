package remote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/internal/upstreamtest"
)

// BenchmarkHTTPRoundTrip measures a tools/call through the HTTP upstream to
// a go-sdk Streamable HTTP server on loopback.
//
// The awaited cases send each call as the front sends a POST's only
// request (upstream.AwaitedSender): on the caller's goroutine (httpinline.go).
func BenchmarkHTTPRoundTrip(b *testing.B) {
	for _, tc := range []struct {
		name         string
		jsonResponse bool
		run          func(*testing.B, upstream.Conn, upstreamtest.ChanReceiver)
	}{
		{"sse", false, upstreamtest.BenchmarkRoundTrips},
		{"json", true, upstreamtest.BenchmarkRoundTrips},
		{"sse/awaited", false, upstreamtest.BenchmarkAwaitedRoundTrips},
		{"json/awaited", true, upstreamtest.BenchmarkAwaitedRoundTrips},
	} {
		jsonResponse := tc.jsonResponse
		b.Run(tc.name, func(b *testing.B) {
			srv := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
			type echoArgs struct {
				Text string `json:"text"`
			}
			mcp.AddTool(srv, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, a echoArgs) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: a.Text}}}, nil, nil
			})
			ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
				&mcp.StreamableHTTPOptions{JSONResponse: jsonResponse}))
			defer ts.Close()
			h, err := NewHTTP(Config{URL: ts.URL})
			if err != nil {
				b.Fatal(err)
			}
			rec := make(upstreamtest.ChanReceiver, 16)
			conn, err := h.Open(context.Background(), rec)
			if err != nil {
				b.Fatal(err)
			}
			tc.run(b, conn, rec)
			b.StopTimer()
			conn.Close()
			h.Wait()
			h.CloseIdleConnections()
		})
	}
}
