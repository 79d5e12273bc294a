// Command pinserver is the stdio MCP server (go-sdk) of the pin_tools
// tests: its tool echo never changes; its tool fetch's description is
// "Fetches a URL (<variant>)", variant being its first argument (default
// v1), so that a restart with another argument changes exactly one
// definition, as an updated or compromised server would.
package main

import (
	"context"
	"log"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	variant := "v1"
	if len(os.Args) > 1 {
		variant = os.Args[1]
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "pinserver", Version: "1"}, nil)
	type args struct {
		Text string `json:"text"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Echoes the text"}, func(_ context.Context, _ *mcp.CallToolRequest, a args) (*mcp.CallToolResult, any, error) {
		return text(a.Text), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "fetch", Description: "Fetches a URL (" + variant + ")"}, func(_ context.Context, _ *mcp.CallToolRequest, a args) (*mcp.CallToolResult, any, error) {
		return text("fetched " + a.Text + " with " + variant), nil, nil
	})
	if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		log.Print(err)
	}
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}
