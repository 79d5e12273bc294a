package mcphttp

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

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

// SingleArg reads exactly one argument of the current line, the
// dispenser on its keyword.
func SingleArg(d *caddyfile.Dispenser) (string, error) {
	name := d.Val()
	args := d.RemainingArgs()
	switch len(args) {
	case 1:
		return args[0], nil
	case 0:
		return "", d.Errf("%s needs one argument", name)
	}
	return "", d.Errf("%s takes one argument, got %d: %s (quote a value that holds spaces)", name, len(args), strings.Join(args, " "))
}

// AppendArgs appends the rest of the line (at least one argument) to to.
func AppendArgs(d *caddyfile.Dispenser, to []string) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	return append(to, args...), nil
}

// AppendTo appends the rest of the line (at least one argument) to *dst.
func AppendTo(d *caddyfile.Dispenser, dst *[]string) error {
	v, err := AppendArgs(d, *dst)
	if err == nil {
		*dst = v
	}
	return err
}

// FlagArg reads a subdirective without arguments that turns *on true.
func FlagArg(d *caddyfile.Dispenser, on *bool) error {
	name := d.Val()
	if d.NextArg() {
		return d.Errf("%s takes no argument, got %q", name, d.Val())
	}
	*on = true
	return nil
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

// DurationForm and SizeForm say how a duration and a size are written,
// for the errors of a value that is not one.
const (
	DurationForm = "a duration is a number with a unit, like 10m, 90s, 1h30m or 2d"
	SizeForm     = "a size is a number with a unit in one word, like 4MB, 512KiB or 1GiB"
)

// DurationArg reads one positive duration argument, in what Caddy
// accepts (caddy.ParseDuration: Go's durations and days, such as 2d).
func DurationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	s, err := formArg(d, name, "duration", DurationForm)
	if err != nil {
		return 0, err
	}
	dur, err := ParseDuration(s)
	if err != nil {
		return 0, d.Errf("%s: %v", name, err)
	}
	if dur <= 0 {
		return 0, d.Errf("%s must be positive, got %s", name, s)
	}
	return caddy.Duration(dur), nil
}

// ParseDuration is caddy.ParseDuration with an error that says the form.
func ParseDuration(s string) (time.Duration, error) {
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: %s", s, DurationForm)
	}
	return dur, nil
}

// SizeArg reads one positive size argument, such as 4MB or 512KiB.
func SizeArg(d *caddyfile.Dispenser) (int64, error) {
	name := d.Val()
	s, err := formArg(d, name, "size", SizeForm)
	if err != nil {
		return 0, err
	}
	size, err := humanize.ParseBytes(s)
	if err != nil || size == 0 || size > math.MaxInt64 {
		return 0, d.Errf("%s: invalid size %q: %s", name, s, SizeForm)
	}
	return int64(size), nil
}

// formArg reads the one argument of a value written in a form: a value
// split in words (`10 minutes`, `4 MB`) gets an error saying the form
// rather than Caddy's "wrong argument count".
func formArg(d *caddyfile.Dispenser, name, kind, form string) (string, error) {
	args := d.RemainingArgs()
	switch len(args) {
	case 1:
		return args[0], nil
	case 0:
		return "", d.Errf("%s needs a %s: %s", name, kind, form)
	}
	return "", d.Errf("%s takes one %s, got `%s`: %s", name, kind, strings.Join(args, " "), form)
}
