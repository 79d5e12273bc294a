package caddytest

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// testPasswordHash is the bcrypt hash (cost 4, tests only) of testPassword.
const (
	testPassword     = "s3cret"
	testPasswordHash = "$2a$04$TfNpPSwNncSEpcC.L.ecMud0ElEfaL9WETfuws5lY4ky1iDdh6d7a"
)

// basicAuthTransport signs every request as one basic_auth user.
type basicAuthTransport struct{ user string }

func (b basicAuthTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, testPassword)
	return http.DefaultTransport.RoundTrip(r)
}

// TestStatelessSharesPerUser: behind Caddy's basic_auth, go-sdk clients at
// 2026-07-28 of two users are served by processes of their own (one each
// with shared 1), never by each other's: the child processes are counted
// as each user arrives.
func TestStatelessSharesPerUser(t *testing.T) {
	bin := buildEverythingServer(t)
	site := fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	basic_auth {
		alice %s
		bob %s
	}
	mcp_proxy /mcp {
		stdio %s {
			protocol modern
			shared 1
			warm 0
		}
	}
}
`, testPasswordHash, testPasswordHash, caddyfileQuote(bin))
	url := startProxy(t, site) + "/mcp"
	waitForChildren(t, 0, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	connect := func(user string) *mcp.ClientSession {
		t.Helper()
		client := mcp.NewClient(&mcp.Implementation{Name: "user-" + user, Version: "0"}, nil)
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url,
			HTTPClient: &http.Client{Transport: basicAuthTransport{user: user}}}, nil)
		if err != nil {
			t.Fatalf("%s: connect: %v", user, err)
		}
		t.Cleanup(func() { cs.Close() })
		if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
			t.Fatalf("%s negotiated %q, want 2026-07-28", user, v)
		}
		if _, err := cs.ListTools(ctx, nil); err != nil {
			t.Fatalf("%s: tools/list: %v", user, err)
		}
		return cs
	}
	wantChildren := func(n int, when string) {
		t.Helper()
		if pids := childPIDs(t); len(pids) != n {
			t.Fatalf("%s: %d server processes %v, want %d", when, len(pids), pids, n)
		}
	}
	connect("alice")
	wantChildren(1, "after alice")
	connect("alice")
	wantChildren(1, "after alice's second client (same share)")
	connect("bob")
	wantChildren(2, "after bob (a share of his own)")
}
