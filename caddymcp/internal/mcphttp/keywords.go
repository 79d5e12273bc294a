package mcphttp

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Keywords is one Caddyfile block's subdirectives, each with the function
// that parses its line (the dispenser on the keyword) into a T. The block
// dispatches on the table (Parse) and an unknown keyword's error lists the
// table's keys, so a subdirective added to the block is in the list by
// construction: adding one is one line.
type Keywords[T any] map[string]func(T, *caddyfile.Dispenser) error

// Parse parses the subdirective the dispenser stands on into v, or fails
// with UnknownKeyword's error for block.
func (k Keywords[T]) Parse(block string, v T, d *caddyfile.Dispenser) error {
	parse, ok := k[d.Val()]
	if !ok {
		return UnknownKeyword(d, block, d.Val(), k.Names())
	}
	return parse(v, d)
}

// Names lists the keywords in alphabetical order.
func (k Keywords[T]) Names() []string { return slices.Sorted(maps.Keys(k)) }

// UnknownKeyword is the error of a subdirective word that block does not
// have, at the dispenser's file and line: it names the nearest valid one
// when one is close, and lists them all.
func UnknownKeyword(d *caddyfile.Dispenser, block, word string, valid []string) error {
	return d.Errf("unrecognized %s subdirective %q%s (%s takes: %s)", block, word, DidYouMean(word, valid), block, strings.Join(valid, ", "))
}

// DidYouMean is "; did you mean `x`?" for the valid word nearest to word
// (Nearest), or "" when none is close.
func DidYouMean(word string, valid []string) string {
	if near, ok := Nearest(word, valid); ok {
		return fmt.Sprintf("; did you mean `%s`?", near)
	}
	return ""
}

// Nearest is the valid word closest to word by edit distance (insertions,
// deletions, substitutions and swaps of neighbours each count one), when it
// is close enough to be the word meant: one edit for words of up to four
// letters, two up to eight, three beyond. Failing that, a valid word of three
// letters or more that word starts with, or that starts with word (`environment`
// for env, `idle` for idle_timeout). Ties go to the first in valid.
func Nearest(word string, valid []string) (string, bool) {
	limit := 3
	switch n := len(word); {
	case n <= 4:
		limit = 1
	case n <= 8:
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, v := range valid {
		if dist := editDistance(word, v); dist < bestDist {
			best, bestDist = v, dist
		}
	}
	if best != "" {
		return best, true
	}
	for _, v := range valid {
		if min(len(v), len(word)) >= 3 && (strings.HasPrefix(word, v) || strings.HasPrefix(v, word)) {
			return v, true
		}
	}
	return "", false
}

// editDistance is the optimal string alignment distance between a and b,
// by bytes (keywords are ASCII).
func editDistance(a, b string) int {
	// Three rows of the classic table: the one before the previous is
	// what a swap of neighbours reads.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// Read reads a value with read and, if it is valid, stores it in *dst: a
// keyword table's parser of a line that sets one field is one line.
func Read[V any](d *caddyfile.Dispenser, dst *V, read func(*caddyfile.Dispenser) (V, error)) error {
	v, err := read(d)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
