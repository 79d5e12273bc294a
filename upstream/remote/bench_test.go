package remote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/upstream/internal/upstreamtest"
)

// BenchmarkHTTPRoundTrip measures a tools/call through the HTTP upstream to
// a go-sdk Streamable HTTP server on loopback.
func BenchmarkHTTPRoundTrip(b *testing.B) {
	for _, jsonResponse := range []bool{false, true} {
		name := "sse"
		if jsonResponse {
			name = "json"
		}
		b.Run(name, func(b *testing.B) {
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
			upstreamtest.BenchmarkRoundTrips(b, conn, rec)
			b.StopTimer()
			conn.Close()
			h.Wait()
			h.CloseIdleConnections()
		})
	}
}
