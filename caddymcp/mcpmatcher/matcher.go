package mcpmatcher

import (
	"errors"
	"fmt"
	"math"
	"net/http"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types/ref"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
)

func init() {
	caddy.RegisterModule(MatchMCP{})
}

// MatchMCP matches MCP POSTs by their JSON-RPC envelope: the method and
// the tool, prompt or resource a message names. It reads the body (up to
// MaxSize), puts it back for the handlers after it, and sets the
// {http.mcp.*} placeholders, so handlers ordered before mcp_proxy (header,
// rate_limit keys, log fields) can use them. A request that is not a JSON
// POST of JSON-RPC, or whose body is bigger than MaxSize, does not match:
// it is left for mcp_proxy to answer, and an error here would abort the
// route (and inside rate_limit skip the zone). The exception is a message
// that readers would read differently (pipeline.ErrAmbiguous: members
// that Go's case folding takes for one, or a read member in another case):
// matching or not could each let it by, so the matcher fails with 400 and
// the route ends there. A batch matches if any of
// its messages does; its placeholders name its first request.
//
// Caddyfile:
//
//	@name mcp {
//	    method   <glob...>
//	    tool     <glob...>
//	    max_size <size>
//	}
//
// CEL: mcp({"method": ["tools/call"], "tool": ["search_*"]}).
//
// The globs are the gateway's one dialect (pipeline/glob, docs/patterns.md):
// * stands for any run of characters, every other character for itself.
type MatchMCP struct {
	// Method lists globs of JSON-RPC methods (e.g. tools/call, resources/*);
	// empty matches any message, responses included.
	Method []string `json:"method,omitempty"`
	// Tool lists globs of the tool, prompt or resource a message names
	// (params.name of tools/call and prompts/get, params.uri of
	// resources/read and resources/(un)subscribe); a message that names
	// none does not match them. Empty matches without looking.
	Tool []string `json:"tool,omitempty"`
	// MaxSize bounds the body the matcher reads, in bytes (default 4MiB, the
	// handler's max_message_size default); a bigger body does not match.
	MaxSize int64 `json:"max_size,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (MatchMCP) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.matchers.mcp",
		New: func() caddy.Module { return new(MatchMCP) },
	}
}

// Provision warns of tool globs that look like regexps on URIs (those
// on names are Validate's errors).
func (m *MatchMCP) Provision(ctx caddy.Context) error {
	warnings, _ := m.checkGlobs()
	for _, w := range warnings {
		ctx.Logger().Warn("mcp matcher: " + w)
	}
	return nil
}

// Validate checks the configuration.
func (m *MatchMCP) Validate() error {
	if m.MaxSize < 0 {
		return fmt.Errorf("mcp matcher: max_size must not be negative (got %d)", m.MaxSize)
	}
	if _, err := m.checkGlobs(); err != nil {
		return fmt.Errorf("mcp matcher: %w", err)
	}
	return nil
}

// checkGlobs checks the globs (glob.Check).
func (m *MatchMCP) checkGlobs() (warnings []string, err error) {
	if _, err := glob.CheckList("method", glob.Name, m.Method); err != nil {
		return nil, err
	}
	return glob.CheckList("tool", glob.NameOrURI, m.Tool)
}

// Match is MatchWithError without the error, which is always nil.
func (m MatchMCP) Match(r *http.Request) bool {
	ok, _ := m.MatchWithError(r)
	return ok
}

// MatchWithError reports whether r is an MCP POST whose messages match. It
// fails only on a body whose members readers would read differently; any
// other body it cannot use is simply not a match.
func (m MatchMCP) MatchWithError(r *http.Request) (bool, error) {
	limit := m.MaxSize
	if limit <= 0 {
		limit = front.DefaultMaxMessageSize
	}
	msgs, batch, res, err := mcphttp.ReadEnvelope(r, limit)
	if res == mcphttp.EnvelopeInvalid && errors.Is(err, pipeline.ErrAmbiguous) {
		// Neither answer is safe: a server would read another method or
		// tool than the matcher could. The route ends with 400.
		return false, caddyhttp.Error(http.StatusBadRequest, err)
	}
	if res != mcphttp.EnvelopeOK {
		return false, nil
	}
	info := front.DescribeRequest(r, msgs, batch)
	mcphttp.PublishRequestInfo(r, &info)
	for _, msg := range msgs {
		if m.matches(msg) {
			return true, nil
		}
	}
	return false, nil
}

func (m MatchMCP) matches(msg *pipeline.Message) bool {
	if len(m.Method) > 0 && !glob.MatchAny(m.Method, msg.Method) {
		return false
	}
	if len(m.Tool) == 0 {
		return true
	}
	target := msg.Target()
	return target != "" && glob.MatchAny(m.Tool, target)
}

// UnmarshalCaddyfile sets up the matcher from Caddyfile tokens:
//
//	mcp {
//	    method   <glob...>
//	    tool     <glob...>
//	    max_size <size>
//	}
func (m *MatchMCP) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	for d.Next() { // the matcher name; it may be given more than once
		if d.NextArg() {
			return d.Errf("mcp matcher: unexpected argument %q (use a block: method, tool, max_size)", d.Val())
		}
		for d.NextBlock(0) {
			if err := matcherKeywords.Parse("mcp matcher", m, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// matcherKeywords are the subdirectives of the matcher's block.
var matcherKeywords = mcphttp.Keywords[*MatchMCP]{
	"method": func(m *MatchMCP, d *caddyfile.Dispenser) error {
		return mcphttp.GlobArgs(d, "mcp matcher", glob.Name, &m.Method)
	},
	"tool": func(m *MatchMCP, d *caddyfile.Dispenser) error {
		return mcphttp.GlobArgs(d, "mcp matcher", glob.NameOrURI, &m.Tool)
	},
	"max_size": func(m *MatchMCP, d *caddyfile.Dispenser) error { return mcphttp.Read(d, &m.MaxSize, matcherSize) },
}

// matcherSize reads max_size, in what Caddy accepts.
func matcherSize(d *caddyfile.Dispenser) (int64, error) {
	size, err := mcphttp.SizeArg(d)
	if err != nil {
		return 0, fmt.Errorf("mcp matcher: %w", err)
	}
	return size, nil
}

func parseMatcherSize(s string) (int64, error) {
	size, err := humanize.ParseBytes(s)
	if err != nil || size == 0 || size > math.MaxInt64 {
		return 0, fmt.Errorf("mcp matcher: max_size: invalid size %q (e.g. 4MiB, 512KB)", s)
	}
	return int64(size), nil
}

// CELLibrary produces the CEL form of the matcher:
//
//	mcp({"method": ["tools/call"], "tool": ["search_*"], "max_size": "1MiB"})
func (MatchMCP) CELLibrary(_ caddy.Context) (cel.Library, error) {
	return caddyhttp.CELMatcherImpl(
		"mcp",
		"mcp_matcher_request_map",
		[]*cel.Type{caddyhttp.CELTypeJSON},
		func(data ref.Val) (caddyhttp.RequestMatcherWithError, error) {
			fields, err := caddyhttp.CELValueToMapStrList(data)
			if err != nil {
				return nil, err
			}
			return matcherFromMap(fields)
		},
	)
}

// matcherFromMap builds the matcher of a CEL expression's map.
func matcherFromMap(fields map[string][]string) (MatchMCP, error) {
	var m MatchMCP
	for k, v := range fields {
		switch k {
		case "method":
			m.Method = v
		case "tool":
			m.Tool = v
		case "max_size":
			if len(v) != 1 {
				return m, errors.New("mcp matcher: max_size takes one size")
			}
			size, err := parseMatcherSize(v[0])
			if err != nil {
				return m, err
			}
			m.MaxSize = size
		default:
			return m, fmt.Errorf("mcp matcher: unknown key %q (expected method, tool or max_size)", k)
		}
	}
	return m, nil
}

// Interface guards.
var (
	_ caddy.Provisioner                 = (*MatchMCP)(nil)
	_ caddy.Validator                   = (*MatchMCP)(nil)
	_ caddyhttp.RequestMatcherWithError = (*MatchMCP)(nil)
	_ caddyhttp.CELLibraryProducer      = (*MatchMCP)(nil)
	_ caddyfile.Unmarshaler             = (*MatchMCP)(nil)
)
