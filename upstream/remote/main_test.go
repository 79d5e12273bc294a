package remote

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
)

// TestMain checks that no test leaves a goroutine behind. The pool's
// spawner thread is ignored as in every package that may start a pool: it
// lives for the process by design.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction(pool.SpawnerFunction))
}

// mustParse parses one JSON-RPC message or fails the test.
func mustParse(t *testing.T, s string) *pipeline.Message {
	t.Helper()
	m, err := pipeline.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
