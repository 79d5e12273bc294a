package caddytest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startPinCaddy runs the built Caddy as a second instance on storageDir,
// serving the pinserver of variant at /mcp as the endpoint named pinned,
// with pin_tools reading the storage back every second. It returns the
// endpoint's URL.
func startPinCaddy(t *testing.T, storageDir, variant string) string {
	t.Helper()
	p := runCaddyProcess(t, fmt.Sprintf("\tgrace_period 1ns\n\tstorage file_system %s\n", caddyfileQuote(storageDir)),
		fmt.Sprintf(`	mcp_proxy /mcp {
		name pinned
		stdio %s %s
		pin_tools {
			refresh 1s
		}
	}
`, caddyfileQuote(pinServer.get(t)), variant))
	cmd, exited, output := p.cmd, p.exited, p.output
	httpAddr := strings.TrimPrefix(p.base, "http://")
	t.Cleanup(func() { // a clean exit first, so that it stops its servers
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	})
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if !poll(30*time.Second, func() bool {
		resp, err := c.Get("http://" + httpAddr + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}) {
		t.Fatalf("the second caddy does not serve:\n%s", output.String())
	}
	return "http://" + httpAddr + "/mcp"
}

// TestPinToolsShared: two Caddy instances on one file storage share the
// pins. What the first pinned, the second judges a change by; an approval
// made on the first reaches the second within its refresh, whose
// connected go-sdk client then gets list_changed and sees the tool.
func TestPinToolsShared(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	storage := t.TempDir()
	globals := withGlobals(pinGlobals(storage))
	url := startProxy(t, pinSite(t, "v1", "refresh 1s"), globals) + "/mcp"
	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	if got := sortedToolNames(ctx, t, cs); !slices.Equal(got, []string{"echo", "fetch"}) {
		t.Fatalf("the first instance lists %v", got)
	}

	second := startPinCaddy(t, storage, "v2")
	cs2, changed := listChangedClient(ctx, t, second)
	if got := sortedToolNames(ctx, t, cs2); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("the second instance, whose server changed fetch, lists %v", got)
	}

	// The first instance learns of the drift from the storage.
	var drift pinEntry
	if !pollCtx(ctx, func() bool { drift = pinsOf(t)["fetch"]; return drift.State == "drift" }) {
		t.Fatalf("the first instance never showed the second's drift: %+v", drift)
	}
	if status, body := adminDo(t, http.MethodPost, "/mcp_proxy/pins/"+drift.ID+"/approve"); status != http.StatusOK {
		t.Fatalf("approve: %d %s", status, body)
	}
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("the second instance's client heard no list_changed after the approval on the first")
	}
	if got := sortedToolNames(ctx, t, cs2); !slices.Equal(got, []string{"echo", "fetch"}) {
		t.Errorf("after the approval the second instance lists %v", got)
	}
}
