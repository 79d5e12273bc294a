package caddymcp

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/pipeline/pins"
)

func TestPinToolsCaddyfile(t *testing.T) {
	tests := []struct {
		name, block string
		want        *PinToolsConfig
		cfg         pins.Config
		err         string
	}{
		{"bare", "pin_tools", &PinToolsConfig{}, pins.Config{OnChange: pins.Hide, OnNew: pins.Pass}, ""},
		{"empty block", "pin_tools {\n}", &PinToolsConfig{}, pins.Config{OnChange: pins.Hide, OnNew: pins.Pass}, ""},
		{"all set", "pin_tools {\non_change block\non_new hide\nrefresh 2s\n}",
			&PinToolsConfig{OnChange: "block", OnNew: "hide", Refresh: dur(2 * time.Second)}, pins.Config{OnChange: pins.Block, OnNew: pins.Hide}, ""},
		{"warn", "pin_tools {\non_change warn\n}", &PinToolsConfig{OnChange: "warn"}, pins.Config{OnChange: pins.Warn, OnNew: pins.Pass}, ""},
		{"bad on_change", "pin_tools {\non_change ignore\n}", nil, pins.Config{}, `on_change is warn, hide or block, not "ignore"`},
		{"bad on_new", "pin_tools {\non_new block\n}", nil, pins.Config{}, `on_new is allow or hide, not "block"`},
		{"two values", "pin_tools {\non_new allow hide\n}", nil, pins.Config{}, "on_new takes one argument, got 2"},
		{"unknown", "pin_tools {\non_drift hide\n}", nil, pins.Config{}, `unrecognized pin_tools subdirective "on_drift"`},
		{"an argument", "pin_tools hide", nil, pins.Config{}, "wrong argument count"},
		{"twice", "pin_tools\npin_tools", nil, pins.Config{}, "pin_tools is set twice"},
		{"negative refresh", "pin_tools {\nrefresh -1s\n}", nil, pins.Config{}, "refresh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\nstdio cmd\n" + tt.block + "\n}"))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h.PinTools, tt.want) {
				t.Fatalf("got %+v, want %+v", h.PinTools, tt.want)
			}
			if cfg, err := h.PinTools.config(); err != nil || cfg != tt.cfg {
				t.Errorf("config %+v %v, want %+v", cfg, err, tt.cfg)
			}
		})
	}
}

// A JSON config is checked at provisioning as the Caddyfile is at adapting.
func TestPinToolsJSONChecked(t *testing.T) {
	if _, err := (&PinToolsConfig{OnChange: "Hide"}).config(); err == nil || !strings.Contains(err.Error(), `not "Hide"`) {
		t.Errorf("%v", err)
	}
}
