// Command echoserver is the MCP server the benchmark (caddytest/bench) puts
// behind every target: a go-sdk server with one tool, `echo`, that returns
// its `text` argument as one text content item.
//
//	echoserver                          # stdio (the default)
//	echoserver -http 127.0.0.1:8931     # stateful Streamable HTTP at /mcp
//	echoserver -http 127.0.0.1:8931 -json
//
// Over HTTP it is stateful (Mcp-Session-Id, standalone GET stream, DELETE),
// with no session timeout, and answers POSTs with an SSE stream — the go-sdk
// default and what supergateway answers too — or with plain JSON under -json.
// It stops on SIGINT/SIGTERM, and in stdio mode when stdin closes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type echoArgs struct {
	Text string `json:"text" jsonschema:"the text to echo back"`
}

func newServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "caddy-mcp-bench-echo", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Returns its text argument."},
		func(_ context.Context, _ *mcp.CallToolRequest, a echoArgs) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: a.Text}}}, nil, nil
		})
	return s
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("echoserver: ")
	stdio := flag.Bool("stdio", true, "serve MCP over stdin/stdout (the default; ignored with -http)")
	httpAddr := flag.String("http", "", "serve stateful Streamable HTTP at http://`ADDR`/mcp instead of stdio")
	jsonResp := flag.Bool("json", false, "with -http: answer POSTs with application/json instead of an SSE stream")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *httpAddr == "" {
		if !*stdio {
			log.Fatal("nothing to serve: pass -stdio or -http ADDR")
		}
		// Run returns when stdin reaches EOF (the parent closed it or died).
		if err := newServer().Run(ctx, &mcp.StdioTransport{}); err != nil && ctx.Err() == nil {
			log.Fatal(err)
		}
		return
	}

	srv := newServer()
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{JSONResponse: *jsonResp}))
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening on http://%s/mcp\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		log.Fatal(err)
	case <-ctx.Done():
	}
	// Open GET streams never end by themselves: close what Shutdown cannot
	// drain in a moment.
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Print(err)
	}
}
