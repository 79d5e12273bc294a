package mcphttp

import (
	"math"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"
)

// SingleArgKeepBlock reads exactly one argument and leaves a following
// block for the caller.
func SingleArgKeepBlock(d *caddyfile.Dispenser) (string, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return "", d.Errf("%s takes exactly one argument", "http <url>")
	}
	return args[0], nil
}

// SingleArg reads exactly one argument of the current line.
func SingleArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

// AppendArgs appends the rest of the line (at least one argument) to to.
func AppendArgs(d *caddyfile.Dispenser, to []string) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	return append(to, args...), nil
}

// IntArg reads one integer argument.
func IntArg(d *caddyfile.Dispenser) (int, error) {
	name := d.Val()
	s, err := SingleArg(d)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, d.Errf("%s: %q is not an integer", name, s)
	}
	return n, nil
}

// PositiveIntArg reads one integer argument above zero.
func PositiveIntArg(d *caddyfile.Dispenser) (int, error) {
	name := d.Val()
	n, err := IntArg(d)
	if err == nil && n <= 0 {
		err = d.Errf("%s must be a positive integer, got %d", name, n)
	}
	return n, err
}

// DurationArg reads one positive duration argument.
func DurationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	s, err := SingleArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("%s: invalid duration %q: %v", name, s, err)
	}
	if dur <= 0 {
		return 0, d.Errf("%s must be positive, got %s", name, s)
	}
	return caddy.Duration(dur), nil
}

// SizeArg reads one positive size argument, such as 4MB or 512KiB.
func SizeArg(d *caddyfile.Dispenser) (int64, error) {
	name := d.Val()
	s, err := SingleArg(d)
	if err != nil {
		return 0, err
	}
	size, err := humanize.ParseBytes(s)
	if err != nil || size == 0 || size > math.MaxInt64 {
		return 0, d.Errf("%s: invalid size %q (e.g. 4MB, 512KiB)", name, s)
	}
	return int64(size), nil
}
