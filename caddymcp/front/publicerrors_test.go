package front

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"
	zapobserver "go.uber.org/zap/zaptest/observer"
)

// TestUpstreamFailuresArePublic: what a client reads of a failed start or a
// crashed server names no command line or pid; its error data carries the
// correlation_id of the log line that has the detail; verbose_errors puts
// the detail back.
func TestUpstreamFailuresArePublic(t *testing.T) {
	t.Parallel()
	const (
		spawnDetail = "pool: cannot start process: exec: \"/opt/secret/bin/mcp-server --token=s3cret\": no such file or directory"
		crashDetail = "MCP server process 4242 ended: exit status 1"
	)
	for _, verbose := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "verbose_errors"}[verbose], func(t *testing.T) {
			t.Parallel()
			check := func(t *testing.T, raw string, logs *zapobserver.ObservedLogs, detail string, secrets ...string) {
				t.Helper()
				var e struct {
					Error struct {
						Message string `json:"message"`
						Data    struct {
							CorrelationID string `json:"correlation_id"`
						} `json:"data"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(raw), &e); err != nil || len(e.Error.Data.CorrelationID) != 24 {
					t.Fatalf("no error with a correlation id: %s", raw)
				}
				// The random id itself may contain a secret's digits (a pid).
				rest := strings.ReplaceAll(raw, e.Error.Data.CorrelationID, "")
				for _, secret := range secrets {
					if strings.Contains(rest, secret) != verbose {
						t.Errorf("verbose=%v, the client's error names %q: %s", verbose, secret, raw)
					}
				}
				lines := logs.FilterField(zap.String("correlation_id", e.Error.Data.CorrelationID)).All()
				if len(lines) != 1 || !strings.Contains(lines[0].ContextMap()["error"].(string), detail) {
					t.Errorf("want one log line with correlation_id %s and the detail, got %v", e.Error.Data.CorrelationID, lines)
				}
			}
			t.Run("start failure", func(t *testing.T) {
				core, logs := zapobserver.New(zap.InfoLevel)
				h := newHarness(t, func(s *setup) {
					s.up.openErr = errors.New(spawnDetail)
					s.cfg.Logger = zap.New(core)
					s.cfg.VerboseErrors = verbose
				})
				rp := h.do(t, req{body: initBody(Version20250618)})
				m := wantError(t, rp, http.StatusBadGateway, -32603, "could not be started")
				check(t, m.raw, logs, spawnDetail, "/opt/secret", "s3cret")
			})
			t.Run("crash", func(t *testing.T) {
				core, logs := zapobserver.New(zap.InfoLevel)
				h := newHarness(t, func(s *setup) {
					s.cfg.Logger = zap.New(core)
					s.cfg.VerboseErrors = verbose
				})
				sid := h.initialize(t, Version20250618)
				pend := h.start(t, req{sid: sid, version: Version20250618, body: toolCall(5, "wait")})
				c := h.up.conn(t, 0)
				c.waitMethod(t, "tools/call", "5")
				c.crash(errors.New(crashDetail))
				m := wantError(t, pend.wait(t), http.StatusOK, -32000, "the upstream MCP server ended")
				check(t, m.raw, logs, crashDetail, "4242")
			})
		})
	}
}
