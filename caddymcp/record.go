package caddymcp

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/tape"
	"github.com/caddy-mcp/caddy-mcp/tape/record"
)

// RecordConfig records the endpoint's sessions to tapes (JSONL files, one
// per session; see package tape for the format).
type RecordConfig struct {
	// Dir is the directory the tapes go into (created 0700 if missing).
	Dir string `json:"dir"`
	// Redact lists JSON pointers into messages whose values are never
	// stored, e.g. /params/arguments/api_key ("*" matches any member).
	// Authorization and cookie members are never stored, nor HTTP headers.
	Redact []string `json:"redact,omitempty"`
	// MaxSize is the size in bytes after which a tape continues in a numbered file (default: no rotation).
	MaxSize int64 `json:"max_size,omitempty"`
	// Sample is the share of sessions recorded, in (0, 1] (default: all).
	Sample float64 `json:"sample,omitempty"`

	poolKey string
	entry   *mcpstate.RecorderEntry
}

// provision builds the recorder of the endpoint: a tap of its chain.
func (c *RecordConfig) provision(ctx caddy.Context, endpoint, upstreamName string) (pipeline.Tap, error) {
	if c.Dir == "" {
		return nil, fmt.Errorf("record: the directory is empty")
	}
	if c.Sample < 0 || c.Sample > 1 {
		return nil, fmt.Errorf("record: sample must be a fraction in (0, 1], got %v", c.Sample)
	}
	if c.MaxSize < 0 {
		return nil, fmt.Errorf("record: max_size must not be negative")
	}
	redactor, err := tape.NewRedactor(c.Redact)
	if err != nil {
		return nil, fmt.Errorf("record: %v", err)
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return nil, fmt.Errorf("record: %v", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("record: %v", err)
	}
	settings, _ := json.Marshal(c)
	c.poolKey = endpoint + "|" + upstreamName + "|" + dir + "|" + hashKey(settings)
	logger := ctx.Logger().Named("record")
	val, _, err := mcpstate.Recorders.LoadOrNew(c.poolKey, func() (caddy.Destructor, error) {
		w := tape.NewWriter(tape.WriterOptions{Dir: dir, MaxSize: c.MaxSize, Redactor: redactor, Logger: logger})
		rec := record.New(record.Config{
			Writer: w, Endpoint: endpoint, Upstream: upstreamName, Sample: c.Sample,
			User: userIDFromContext, Client: clientIPFromContext,
		})
		return &mcpstate.RecorderEntry{Dir: dir, Endpoint: endpoint, Writer: w, Recorder: rec}, nil
	})
	if err != nil {
		c.poolKey = ""
		return nil, fmt.Errorf("record: %v", err)
	}
	c.entry = val.(*mcpstate.RecorderEntry)
	return c.entry.Recorder, nil
}

// cleanup releases this configuration's hold on the recorder.
func (c *RecordConfig) cleanup() error {
	if c.poolKey == "" {
		return nil
	}
	_, err := mcpstate.Recorders.Delete(c.poolKey)
	return err
}

// recordTap is the recorder, when record is configured (nil otherwise):
// it hears the chain's final decision about every message.
func (h *Handler) recordTap(ctx caddy.Context) (pipeline.Tap, error) {
	if h.Record == nil {
		return nil, nil
	}
	tap, err := h.Record.provision(ctx, h.storeKey, h.upstreamName())
	if err != nil {
		return nil, fmt.Errorf("mcp_proxy: %v", err)
	}
	return tap, nil
}

// upstreamName names the upstream on tapes: its name (see UpstreamConfig),
// secret-free, never a URL or a command line; with several upstreams,
// their names joined by commas.
func (h *Handler) upstreamName() string {
	names := make([]string, len(h.built))
	for i, b := range h.built {
		names[i] = b.name
	}
	return strings.Join(names, ",")
}

// userIDFromContext is the authenticated user of the request ctx belongs to.
func userIDFromContext(ctx context.Context) string {
	repl, ok := ctx.Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return ""
	}
	v, _ := repl.GetString("http.auth.user.id")
	return v
}

// clientIPFromContext is the client's address of the request ctx belongs to.
func clientIPFromContext(ctx context.Context) string {
	ip, _ := caddyhttp.GetVar(ctx, caddyhttp.ClientIPVarKey).(string)
	return ip
}

// parseRecord parses `record <dir> { redact <pointer...>; max_size <size>; sample <fraction> }`.
func parseRecord(d *caddyfile.Dispenser) (*RecordConfig, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return nil, d.Err("record takes one argument, the directory of the tapes: record <dir>")
	}
	c := &RecordConfig{Dir: args[0]}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := recordKeywords.Parse("record", c, d); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// recordKeywords are the subdirectives of a record block.
var recordKeywords = mcphttp.Keywords[*RecordConfig]{
	"redact":   (*RecordConfig).parseRedact,
	"max_size": func(c *RecordConfig, d dispenser) error { return read(d, &c.MaxSize, sizeArg) },
	"sample":   (*RecordConfig).parseSample,
}

func (c *RecordConfig) parseRedact(d dispenser) error {
	if err := mcphttp.AppendTo(d, &c.Redact); err != nil {
		return err
	}
	if _, perr := tape.NewRedactor(c.Redact); perr != nil {
		return d.Err(perr.Error())
	}
	return nil
}

func (c *RecordConfig) parseSample(d dispenser) error {
	s, err := mcphttp.SingleArg(d)
	if err != nil {
		return err
	}
	c.Sample, err = strconv.ParseFloat(s, 64)
	if err != nil || c.Sample <= 0 || c.Sample > 1 {
		return d.Errf("sample must be a fraction in (0, 1], e.g. 0.1, got %q", s)
	}
	return nil
}
