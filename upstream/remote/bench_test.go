package remote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// chanReceiver hands every server message to a channel.
type chanReceiver chan *pipeline.Message

func (c chanReceiver) Deliver(m *pipeline.Message) { c <- m }
func (c chanReceiver) Closed(error)                {}

// benchmarkRoundTrips initializes one session on conn and then measures
// tools/call round trips (send, the server's work, the response parsed and
// delivered) one after the other.
func benchmarkRoundTrips(b *testing.B, conn upstream.Conn, rec chanReceiver) {
	ctx := context.Background()
	send := func(raw string) {
		m, err := pipeline.Parse([]byte(raw))
		if err != nil {
			b.Fatal(err)
		}
		if err := conn.Send(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
	<-rec
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		send(`{"jsonrpc":"2.0","id":` + strconv.Itoa(i) + `,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`)
		if m := <-rec; !m.IsResponse() {
			b.Fatalf("got %s", m.Raw)
		}
	}
}

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
			rec := make(chanReceiver, 16)
			conn, err := h.Open(context.Background(), rec)
			if err != nil {
				b.Fatal(err)
			}
			benchmarkRoundTrips(b, conn, rec)
			b.StopTimer()
			conn.Close()
			h.Wait()
			h.CloseIdleConnections()
		})
	}
}
