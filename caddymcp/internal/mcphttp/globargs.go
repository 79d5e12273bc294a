package mcphttp

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
)

// GlobArgs reads the patterns of the line the dispenser stands on (at
// least one) and appends them to *to, once CheckGlobs passed them; block
// names the line's block in the messages.
func GlobArgs(d *caddyfile.Dispenser, block string, k glob.Kind, to *[]string) error {
	what := block + " " + d.Val()
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.Errf("%s needs at least one glob", what)
	}
	if err := CheckGlobs(d, what, k, args); err != nil {
		return err
	}
	*to = append(*to, args...)
	return nil
}

// CheckGlobs checks a Caddyfile line's patterns of kind k (glob.Check): a
// pattern that can only be a regexp is an error at the line; one that
// looks like a regexp where it may not be one is logged as a warning with
// the file and line (Caddy's adapter has no way for a directive to add a
// warning of its own), and once more when the configuration loads.
func CheckGlobs(d *caddyfile.Dispenser, what string, k glob.Kind, patterns []string) error {
	warnings, err := glob.CheckList(what, k, patterns)
	if err != nil {
		return d.Errf("%v", err)
	}
	for _, w := range warnings {
		WarnAt(d, w)
	}
	return nil
}

// WarnAt logs a warning about the Caddyfile line the dispenser stands on.
func WarnAt(d *caddyfile.Dispenser, msg string) {
	caddy.Log().Named("caddyfile").Warn(msg, zap.String("file", d.File()), zap.Int("line", d.Line()))
}
