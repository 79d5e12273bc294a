package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/caddy-mcp/caddy-mcp/pipeline/pins"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// Drift is a tool whose definition the live server lists otherwise than
// the tape recorded: a finding of its own, since an agent decides what to
// call from those definitions (what pin_tools guards in the gateway).
// Definitions are compared in pin_tools' canonical form, so key order and
// whitespace do not count.
type Drift struct {
	// Index is the tools/list request's position among the tape's records (1-based).
	Index int
	// Tool is the tool's name.
	Tool string
	// Kind is "changed", "added" (live only) or "removed" (recorded only).
	Kind string
	// Changes are, for a changed definition, its differing paths,
	// "<pointer>: recorded X, live Y".
	Changes []string
}

// toolsPointer is where a tools/list answer lists its tools.
const toolsPointer = "/result/tools"

// definitions reads the tools of a tools/list answer by name; false when
// the answer lists none (an error answer).
func definitions(answer json.RawMessage) (map[string]pins.Definition, bool) {
	var m struct {
		Result *struct {
			Tools []json.RawMessage `json:"tools"`
		} `json:"result"`
	}
	if json.Unmarshal(answer, &m) != nil || m.Result == nil {
		return nil, false
	}
	defs := make(map[string]pins.Definition, len(m.Result.Tools))
	for _, t := range m.Result.Tools {
		if d, err := pins.Canonicalize(t); err == nil {
			defs[d.Name] = d
		}
	}
	return defs, true
}

// drifts compares the tool definitions of a recorded and a live tools/list
// answer; false when either lists none, and the answers are then compared
// whole.
func drifts(index int, recorded, live json.RawMessage) ([]Drift, bool) {
	was, ok1 := definitions(recorded)
	now, ok2 := definitions(live)
	if !ok1 || !ok2 {
		return nil, false
	}
	names := make([]string, 0, len(was)+len(now))
	for n := range was {
		names = append(names, n)
	}
	for n := range now {
		if _, ok := was[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var out []Drift
	for _, n := range names {
		a, inA := was[n]
		b, inB := now[n]
		switch {
		case !inB:
			out = append(out, Drift{Index: index, Tool: n, Kind: "removed"})
		case !inA:
			out = append(out, Drift{Index: index, Tool: n, Kind: "added"})
		case a.Digest != b.Digest:
			var changes []string
			diff("", decode(a.Canonical), decode(b.Canonical), &changes)
			out = append(out, Drift{Index: index, Tool: n, Kind: "changed", Changes: changes})
		}
	}
	return out, true
}

// compareList compares a tools/list answer: its tool definitions as
// drifts, the rest of it (a cursor, the tools' other members aside) as any
// answer; false when either answer lists no tools.
func compareList(ignore []string, index int, recorded, live json.RawMessage) ([]Drift, []string, bool, error) {
	ds, ok := drifts(index, recorded, live)
	if !ok {
		return nil, nil, false, nil
	}
	rest, err := tape.NewRedactor(append(slices.Clone(ignore), toolsPointer))
	if err != nil {
		return nil, nil, false, err
	}
	return ds, compare(rest, recorded, live), true, nil
}

// printDrifts writes a line per drifted tool and one per changed path.
func printDrifts(w io.Writer, ds []Drift) {
	for _, d := range ds {
		fmt.Fprintf(w, "DRIFT record %d, tools/list: tool %s %s\n", d.Index, strconv.Quote(d.Tool), d.Kind)
		for i, c := range d.Changes {
			if i == MaxChangesShown {
				fmt.Fprintf(w, "    … and %d more differences\n", len(d.Changes)-i)
				break
			}
			fmt.Fprintf(w, "    %s\n", c)
		}
	}
}
