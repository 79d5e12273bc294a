package caddymcp

import (
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/pins"
)

// PinToolsConfig pins the tool definitions the endpoint's server lists on
// first use, in Caddy's configured storage, and withholds a definition
// that changed until an operator approves it (docs/pins.md).
type PinToolsConfig struct {
	// OnChange is what happens to a tool whose definition differs from its
	// pin: warn (pass, log, count, flag), hide (from lists, and refuse its
	// calls as unknown) or block (list it, refuse its calls). Default hide.
	OnChange string `json:"on_change,omitempty"`
	// OnNew is what happens to a tool never pinned: allow (pin it) or hide
	// (until approved). Default allow.
	OnNew string `json:"on_new,omitempty"`
	// Refresh is how often the pins are read back from the storage, so
	// that an approval made on another instance sharing it applies here
	// (default 10s).
	Refresh caddy.Duration `json:"refresh,omitempty"`
}

// config turns the configuration into a pins.Config.
func (c *PinToolsConfig) config() (pins.Config, error) {
	cfg := pins.Config{OnChange: pins.Hide, OnNew: pins.Pass}
	switch c.OnChange {
	case "", "hide":
	case "warn":
		cfg.OnChange = pins.Warn
	case "block":
		cfg.OnChange = pins.Block
	default:
		return cfg, fmt.Errorf("pin_tools: on_change is warn, hide or block, not %q", c.OnChange)
	}
	switch c.OnNew {
	case "", "allow":
	case "hide":
		cfg.OnNew = pins.Hide
	default:
		return cfg, fmt.Errorf("pin_tools: on_new is allow or hide, not %q", c.OnNew)
	}
	if c.Refresh < 0 {
		return cfg, errors.New("pin_tools: refresh must not be negative")
	}
	return cfg, nil
}

// parsePinTools reads
//
//	pin_tools {
//	    on_change warn|hide|block   # default hide
//	    on_new    allow|hide        # default allow
//	    refresh   <duration>        # default 10s
//	}
//
// (the block is optional).
func parsePinTools(d *caddyfile.Dispenser, h *Handler) error {
	if h.PinTools != nil {
		return d.Err("pin_tools is set twice")
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	c := new(PinToolsConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "on_change":
			c.OnChange, err = mcphttp.SingleArg(d)
		case "on_new":
			c.OnNew, err = mcphttp.SingleArg(d)
		case "refresh":
			c.Refresh, err = mcphttp.DurationArg(d)
		default:
			return d.Errf("unrecognized pin_tools subdirective %q (on_change, on_new, refresh)", d.Val())
		}
		if err != nil {
			return err
		}
		if _, err := c.config(); err != nil {
			return d.Err(err.Error())
		}
	}
	h.PinTools = c
	return nil
}

// toolDrifts counts drifts (and new tools held for approval) by endpoint
// and action. It is one of the module's collectors (metrics.go), so that
// it is exported, at zero series, with or without pin_tools.
var toolDrifts = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy_mcp", Name: "tool_drifts_total",
	Help: "Tool definitions that differ from their pin (or new tools held under on_new hide), counted once per distinct definition (by the instance that first records it in the storage), by endpoint and action (warn, hide, block; hide_new for a new tool).",
}, []string{"endpoint", "action"})

// pinStage returns the pin_tools stage of the endpoint, nil without
// pin_tools. Its book outlives the reloads that keep the endpoint.
func (h *Handler) pinStage(ctx caddy.Context) (pipeline.Stage, error) {
	if h.PinTools == nil {
		return nil, nil
	}
	cfg, err := h.PinTools.config()
	if err != nil {
		return nil, fmt.Errorf("mcp_proxy: %v", err)
	}
	storage := ctx.Storage()
	endpoint := h.storeKey
	val, loaded, err := mcpstate.PinBooks.LoadOrNew(endpoint, func() (caddy.Destructor, error) {
		return &mcpstate.PinEntry{Book: pins.NewBook(endpoint, storage, cfg)}, nil
	})
	if err != nil {
		return nil, err
	}
	h.pinned = true
	book := val.(*mcpstate.PinEntry).Book
	book.SetHooks(h.pinHooks(endpoint))
	if loaded {
		book.SetConfig(cfg)
		book.SetRefresh(time.Duration(h.PinTools.Refresh))
	} else {
		book.Start(time.Duration(h.PinTools.Refresh))
	}
	return pins.NewStage(book, ""), nil
}

// pinHooks log and count what the endpoint's book finds, and tell the
// endpoint's sessions when their tools lists change.
func (h *Handler) pinHooks(endpoint string) pins.Hooks {
	logger := h.logger
	return pins.Hooks{
		Event: func(e pins.Event) {
			action := e.Action.String()
			if e.Kind == "new" {
				action = "hide_new"
			}
			toolDrifts.WithLabelValues(endpoint, action).Inc()
			logger.Warn("pin_tools: a tool definition awaits review",
				zap.String("endpoint", e.Endpoint), zap.String("server", e.Server), zap.String("tool", e.Tool),
				zap.String("kind", e.Kind), zap.String("action", e.Action.String()),
				zap.String("pinned_digest", e.Pinned), zap.String("seen_digest", e.Seen))
		},
		Changed: func() {
			if e := mcpstate.StoreEntries()[endpoint]; e != nil {
				e.Store.Notify("notifications/tools/list_changed", nil)
			}
		},
		Error: func(err error) {
			logger.Error("pin_tools: storage", zap.String("endpoint", endpoint), zap.Error(err))
		},
	}
}

// releasePins lets go of the endpoint's pin book (Cleanup).
func (h *Handler) releasePins() error {
	if !h.pinned {
		return nil
	}
	_, err := mcpstate.PinBooks.Delete(h.storeKey)
	return err
}
