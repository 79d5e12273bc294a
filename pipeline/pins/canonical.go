package pins

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
)

// definitionFields are the members of a tool that make its definition:
// what an agent reads to decide what to call. Others (_meta, icons) may
// change without a drift.
var definitionFields = [...]string{"name", "title", "description", "inputSchema", "outputSchema", "annotations"}

// Definition is a tool definition in canonical form.
type Definition struct {
	// Name is the tool's own name, as its server lists it.
	Name string
	// Canonical is the definition's members as JSON with sorted keys and
	// no insignificant whitespace.
	Canonical json.RawMessage
	// Digest is the hex SHA-256 of Canonical.
	Digest string
}

// errNoName is the error of a list entry without a name.
var errNoName = errors.New("a tool without a name")

// Canonicalize reads one entry of a tools/list result. Members outside the
// definition are left out; a member whose value is null counts as absent;
// numbers keep their text.
func Canonicalize(entry []byte) (Definition, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(entry, &members); err != nil {
		return Definition{}, err
	}
	var name string
	if err := json.Unmarshal(members["name"], &name); err != nil || name == "" {
		return Definition{}, errNoName
	}
	kept := make(map[string]any, len(definitionFields))
	for _, f := range definitionFields {
		raw, ok := members[f]
		if !ok || string(raw) == "null" {
			continue
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return Definition{}, err
		}
		kept[f] = v
	}
	canonical, err := marshalCanonical(kept)
	if err != nil {
		return Definition{}, err
	}
	sum := sha256.Sum256(canonical)
	return Definition{Name: name, Canonical: canonical, Digest: hex.EncodeToString(sum[:])}, nil
}

// marshalCanonical encodes v with sorted object keys (encoding/json sorts
// map keys) and without HTML escaping, which would make "<" and "\u003c"
// the same text.
func marshalCanonical(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Pretty returns a canonical definition indented, one member a line, for
// an operator to read and diff.
func Pretty(canonical json.RawMessage) string {
	var b bytes.Buffer
	if json.Indent(&b, canonical, "", "  ") != nil {
		return string(canonical)
	}
	return b.String()
}
