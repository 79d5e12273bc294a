package caddytest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuthTSStepUp: the TypeScript SDK client with ClientCredentialsProvider
// gets a token for required_scopes, then calls a tool with a scope of its
// own: the 403's challenge names every scope the call needs, the SDK
// re-authorizes once with them and the retried call succeeds on the same
// session.
func TestAuthTSStepUp(t *testing.T) {
	as := startAuthServer(t)
	startProxyChecked(t, authSiteWith(t, as.URL, "scope "+progressScope+" {\n\t\t\ttool "+toolProgress+"\n\t\t}", ""))
	script, err := filepath.Abs(filepath.Join("interop_ts", "auth_client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	run := runNode(ctx, node20(t), script, authResource, "alice", "alice-secret", as.URL, toolProgress)
	if run.Err != nil {
		t.Fatalf("TypeScript client: %v\nstdout:\n%s\nstderr:\n%s", run.Err, run.Stdout, run.Stderr)
	}
	var r struct {
		tsAuthResult
		ScopedResult string `json:"scopedResult"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(run.Stdout)), &r); err != nil {
		t.Fatalf("TypeScript client output: %v\n%s\n%s", err, run.Stdout, run.Stderr)
	}
	want403 := `Bearer resource_metadata="` + authMetadataURL + `", scope="` + scopedNeedBoth + `", error="insufficient_scope"`
	var saw403 bool
	for _, e := range r.Exchanges {
		if e.Status == 403 {
			if e.WWWAuthenticate != want403 {
				t.Fatalf("403 challenge:\n got %s\nwant %s", e.WWWAuthenticate, want403)
			}
			saw403 = true
		}
	}
	if !saw403 || as.TokensIssued() != 2 || r.ScopedResult == "" || r.ScopedResult == "[]" {
		t.Fatalf("403 seen %v, tokens issued %d (want 2: first, then stepped up), scoped result %q; exchanges:\n%+v",
			saw403, as.TokensIssued(), r.ScopedResult, r.Exchanges)
	}
	t.Logf("step-up: %d exchanges in %v", len(r.Exchanges), run.Duration)
}
