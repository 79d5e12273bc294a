package caddytest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestConsoleFederatedSessionServers: the console's session row of a
// federated endpoint shows each server with the replica serving it there.
func TestConsoleFederatedSessionServers(t *testing.T) {
	requireChromium(t)
	node := node20(t)
	everything := nodeModule(t, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	ts := httptest.NewServer(goSDKHandler(newDocsServer()))
	defer ts.Close()
	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		server everything {
			stdio %s %s stdio {
				warm 0
			}
		}
		server docs {
			http %s
		}
	}
	handle_path /console/* {
		mcp_console
	}
}
`, caddyfileQuote(node), caddyfileQuote(everything), caddyfileQuote(ts.URL)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-console-fed", Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: base + "/mcp", DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	b := startBrowser(t)
	b.call(b.session, "Page.navigate", map[string]any{"url": proxyBaseURL + "/console/"}, nil)
	docs := "docs: docs/" + strings.ReplaceAll(strings.TrimPrefix(ts.URL, "http://"), ":", "-")
	row := fmt.Sprintf(`document.querySelector('#sessions tr[data-key=%s]')`, strconv.Quote(cs.ID()))
	b.waitFor("the session's servers are shown", row+` && `+row+`.textContent.includes("everything: everything/node (pid ") && `+
		row+`.textContent.includes(`+strconv.Quote(docs)+`)`)
	if p := b.pageProblems(); len(p) > 0 {
		t.Errorf("the page reported problems: %v", p)
	}
}
