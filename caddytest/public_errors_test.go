package caddytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStdioFailuresArePublic: a stdio server that cannot be started, or that
// dies, is answered with an error that names neither the command, its
// arguments nor a pid — an operator's command line may hold a token — but
// carries a correlation_id for the log line that has the detail.
func TestStdioFailuresArePublic(t *testing.T) {
	requireIntegration(t)
	const secret = "sk-live-do-not-show"
	// missing is there when the config loads, which refuses a command it
	// cannot find (missing_command_test.go), and removed before the client comes.
	missing := filepath.Join(t.TempDir(), "no-such-mcp-server")
	writeScript(t, missing, "exec cat")
	dies := filepath.Join(t.TempDir(), "dying-mcp-server")
	// Answers nothing: reads the initialize, then exits.
	writeScript(t, dies, "read line\nexit 3")

	for _, tc := range []struct {
		name    string
		command string
		status  int
		want    string
	}{
		{"command not found", missing, http.StatusBadGateway, "could not be started"},
		{"server dies during initialize", dies, http.StatusOK, "ended"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// spare_check off: the dying server would fail the readiness ping
			// (and be retried) instead of meeting the session's initialize.
			site := fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		stdio %s --token %s {
			spare_check off
			warm 0
		}
	}
}
`, caddyfileQuote(tc.command), secret)
			url := startProxy(t, site, goroutinesChecked) + "/mcp"
			if tc.command == missing {
				if err := os.Remove(missing); err != nil {
					t.Fatal(err)
				}
			}
			resp, body := mcpPost(t, http.DefaultClient, url, "", initializeBodyAt("2025-06-18"))
			t.Logf("%s: %s", resp.Status, body)
			if resp.StatusCode != tc.status {
				t.Errorf("HTTP status %s, want %d", resp.Status, tc.status)
			}
			m := responseTo(t, resp, body, "1")
			if m.Error == nil {
				t.Fatalf("initialize succeeded: %s", body)
			}
			if !strings.Contains(m.Error.Message, tc.want) {
				t.Errorf("error %q does not say %q", m.Error.Message, tc.want)
			}
			for _, private := range []string{tc.command, filepath.Base(tc.command), secret, "pid", "process "} {
				if strings.Contains(body, private) {
					t.Errorf("the error names %q: %s", private, body)
				}
			}
			var data struct {
				CorrelationID string `json:"correlation_id"`
			}
			if err := json.Unmarshal(m.Error.Data, &data); err != nil || len(data.CorrelationID) != 24 {
				t.Errorf("error data %s, want an object with a correlation_id", m.Error.Data)
			}
		})
	}
}
