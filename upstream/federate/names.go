package federate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Prefix says which client-visible tool and prompt names carry their
// server's name.
type Prefix string

// The prefix modes.
const (
	// PrefixAlways prefixes every name: <server><separator><name>.
	PrefixAlways Prefix = "always"
	// PrefixConditional prefixes only the names two or more servers list.
	PrefixConditional Prefix = "conditional"
	// PrefixNever keeps the servers' names; of a name two servers list,
	// the first server in configuration order serves it.
	PrefixNever Prefix = "never"
)

// MaxName is the longest client-visible name: what every major model
// provider accepts for a tool's name (^[a-zA-Z0-9_-]{1,64}$).
const MaxName = 64

// hashLen is how many hex digits of the hash end a shortened name.
const hashLen = 8

var (
	validName   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	invalidRun  = regexp.MustCompile(`[^A-Za-z0-9_-]+`)
	serverNameR = regexp.MustCompile(`^[A-Za-z0-9-]{1,32}$`)
	// shortened matches what Visible makes of a name it changes.
	shortened = regexp.MustCompile(`-[0-9a-f]{8}$`)
)

// ValidServerName says what is wrong with a server's name given the
// separator, if anything: 1–32 of [A-Za-z0-9-], without the separator, so
// that a prefixed name splits in exactly one way.
func ValidServerName(name, sep string) error {
	if !serverNameR.MatchString(name) {
		return fmt.Errorf("server name %q must be 1 to 32 letters, digits or '-'", name)
	}
	if sep != "" && strings.Contains(name, sep) {
		return fmt.Errorf("server name %q contains the separator %q", name, sep)
	}
	return nil
}

// ValidSeparator says what is wrong with a separator, if anything: 1–4 of
// [A-Za-z0-9_-], so that prefixed names stay valid for model providers.
func ValidSeparator(sep string) error {
	if sep == "" || len(sep) > 4 || !validName.MatchString(sep) {
		return fmt.Errorf("separator %q must be 1 to 4 of letters, digits, '_' or '-'", sep)
	}
	return nil
}

// ParsePrefix reads a prefix mode ("" is always).
func ParsePrefix(s string) (Prefix, error) {
	switch p := Prefix(s); p {
	case "":
		return PrefixAlways, nil
	case PrefixAlways, PrefixConditional, PrefixNever:
		return p, nil
	}
	return "", errors.New("prefix must be always, conditional or never, got " + s)
}

// ClientName is the client-visible form of a server's own name: with the
// server's name and the separator in front when prefixed, and made valid
// for model providers (Visible).
func ClientName(server, sep, own string, prefixed bool) string {
	if prefixed {
		return Visible(server + sep + own)
	}
	return Visible(own)
}

// Visible returns name itself when it is at most 64 of [A-Za-z0-9_-], and
// otherwise a deterministic valid form of it: its invalid characters made
// '_', cut to leave room, then '-' and 8 hex digits of the SHA-256 of the
// whole name. The same name gives the same form in every session, reload
// and instance; two names that differ give different forms (up to the
// hash).
func Visible(name string) string {
	if validName.MatchString(name) {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	clean := invalidRun.ReplaceAllString(name, "_")
	if limit := MaxName - hashLen - 1; len(clean) > limit {
		clean = clean[:limit]
	}
	return clean + "-" + hex.EncodeToString(sum[:])[:hashLen]
}

// Assign gives each server's names (lists[i] are servers[i]'s, in its
// order) their client-visible names under mode: out[i][j] is the name of
// lists[i][j], or "" when it is hidden — a name an earlier server (in
// configuration order) already shows to the client, or one a server lists
// twice. hidden reports, for each hidden name, the server that loses it.
func Assign(mode Prefix, sep string, servers []string, lists [][]string) (out [][]string, hidden []Hidden) {
	count := make(map[string]int)
	if mode == PrefixConditional {
		for _, l := range lists {
			seen := make(map[string]bool, len(l))
			for _, n := range l {
				if !seen[n] {
					seen[n] = true
					count[n]++
				}
			}
		}
	}
	taken := make(map[string]string) // client name → server that shows it
	out = make([][]string, len(lists))
	for i, l := range lists {
		out[i] = make([]string, len(l))
		for j, own := range l {
			prefixed := mode == PrefixAlways || (mode == PrefixConditional && count[own] > 1)
			name := ClientName(servers[i], sep, own, prefixed)
			if winner, dup := taken[name]; dup {
				hidden = append(hidden, Hidden{Name: name, Server: servers[i], Winner: winner})
				continue
			}
			taken[name] = servers[i]
			out[i][j] = name
		}
	}
	return out, hidden
}

// Hidden is a name a server lists that the client does not see because
// another server already shows it.
type Hidden struct {
	// Name is the client-visible name.
	Name string
	// Server loses the name; Winner shows it.
	Server, Winner string
}

// SplitPrefixed splits a client-visible name of PrefixAlways into its
// server and the server's own name, if it has that form and names one of
// servers; a name that looks shortened (Visible: ending in '-' and 8 hex
// digits) does not split, since only a listing tells what it stands for. The own name is
// only a guess when its form was changed: the caller checks that
// ClientName gives back the name.
func SplitPrefixed(name, sep string, servers []string) (server int, own string, ok bool) {
	i := strings.Index(name, sep)
	if i <= 0 || shortened.MatchString(name) {
		return 0, "", false
	}
	for s, n := range servers {
		if n == name[:i] {
			own = name[i+len(sep):]
			if ClientName(n, sep, own, true) != name {
				return 0, "", false
			}
			return s, own, true
		}
	}
	return 0, "", false
}

// Ref is what a client-visible name stands for: a server (its index in
// configuration order) and the server's own name.
type Ref struct {
	Server int
	Own    string
}

// Table maps client-visible names of one kind (tools, or prompts) to what
// they stand for and back, for the lists it was made from.
type Table struct {
	mode     Prefix
	sep      string
	servers  []string
	byClient map[string]Ref
	byOwn    []map[string]string
}

// NewTable assigns the names of lists (Assign) and keeps both directions.
func NewTable(mode Prefix, sep string, servers []string, lists [][]string) (*Table, []Hidden) {
	out, hidden := Assign(mode, sep, servers, lists)
	t := &Table{mode: mode, sep: sep, servers: servers, byClient: make(map[string]Ref), byOwn: make([]map[string]string, len(servers))}
	for i := range servers {
		t.byOwn[i] = make(map[string]string)
	}
	for i, l := range lists {
		for j, own := range l {
			if name := out[i][j]; name != "" {
				t.byClient[name] = Ref{Server: i, Own: own}
				t.byOwn[i][own] = name
			}
		}
	}
	return t, hidden
}

// Resolve returns what a client-visible name stands for. With
// PrefixAlways a name that is not in the lists but has the form
// <server><sep><name> resolves too (a client may call a tool it knows
// from an earlier session before it lists them).
func (t *Table) Resolve(client string) (Ref, bool) {
	if r, ok := t.byClient[client]; ok {
		return r, true
	}
	if t.mode == PrefixAlways {
		if s, own, ok := SplitPrefixed(client, t.sep, t.servers); ok {
			return Ref{Server: s, Own: own}, true
		}
	}
	return Ref{}, false
}

// Name returns the client-visible name of a server's own name, if the
// client sees it.
func (t *Table) Name(server int, own string) (string, bool) {
	if server < 0 || server >= len(t.byOwn) {
		return "", false
	}
	n, ok := t.byOwn[server][own]
	return n, ok
}
