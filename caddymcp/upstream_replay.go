package caddymcp

import (
	"encoding/json"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/replay"
)

// ReplayUpstream answers clients from recorded tapes, with no server.
type ReplayUpstream struct {
	// Path is a tape file, or a directory of tapes (each request is
	// answered by the first tape, in name order, that holds a match).
	Path string `json:"path"`
	// Match is how requests are matched: params (method and params
	// without _meta, the default), sequence (in recorded order, method and
	// name) or strict (in order, params exactly). initialize is matched on
	// its method alone.
	Match string `json:"match,omitempty"`
}

// build reads the tapes and returns the upstream.
func (u *ReplayUpstream) build(ctx caddy.Context) (upstream.Upstream, error) {
	files, name, err := replay.Load(u.Path)
	if err != nil {
		return nil, err
	}
	r, err := replay.New(replay.Config{Tapes: files, Name: name, Match: u.Match, Logger: ctx.Logger().Named("replay")})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// key identifies the upstream configuration, for the derived endpoint name.
func (u *ReplayUpstream) key() string {
	b, _ := json.Marshal(u)
	return "replay:" + hashKey(b)
}

// parseReplay parses `replay <tape|dir> { name <name>; match params|sequence|strict }`;
// a name line sets *name.
func parseReplay(d *caddyfile.Dispenser, name *string) (*ReplayUpstream, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return nil, d.Err("replay takes one argument, a tape file or a directory of tapes: replay <tape|dir>")
	}
	u := &ReplayUpstream{Path: args[0]}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := replayKeywords.Parse("replay", replayBlock{u, name}, d); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// replayBlock is what a replay block's lines set: the upstream and its name.
type replayBlock struct {
	*ReplayUpstream
	name *string
}

// replayKeywords are the subdirectives of a replay block.
var replayKeywords = mcphttp.Keywords[replayBlock]{
	"name":  func(b replayBlock, d dispenser) error { return read(d, b.name, upstreamNameArg) },
	"match": func(b replayBlock, d dispenser) error { return read(d, &b.Match, matchArg) },
}
