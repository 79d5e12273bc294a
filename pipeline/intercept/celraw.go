package intercept

import (
	"encoding/json"
	"reflect"
	"strconv"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// CEL's message is read where it is in the message's bytes, not decoded
// whole: message.params.arguments.path walks to that member (pipeline.ValueAt)
// and decodes only its value, as a field does. What needs an object or
// array as a whole (equality, iteration, in, size of an object, +)
// decodes that object or array, and only up to the bound; past it the
// operation is an error and the evaluation is marked tooLarge.

// celBound is what the lazy values of one evaluation share.
type celBound struct {
	max      int64
	tooLarge bool // an operation needed more than max bytes decoded
}

// value turns a raw JSON value into a CEL value: objects and arrays lazy,
// the rest decoded (numbers as celValue makes them).
func (b *celBound) value(raw []byte) ref.Val {
	switch raw[0] {
	case '{':
		return &celObject{raw: raw, b: b}
	case '[':
		return &celArray{raw: raw, b: b, size: -1}
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return types.NewErr("intercept: %v", err)
		}
		return types.String(s)
	case 't':
		return types.True
	case 'f':
		return types.False
	case 'n':
		return types.NullValue
	}
	return types.DefaultTypeAdapter.NativeToValue(celValue(json.Number(raw)))
}

// whole decodes raw for an operation that needs all of it, or returns an
// error past the bound.
func (b *celBound) whole(raw []byte) ref.Val {
	if int64(len(raw)) > b.max {
		b.tooLarge = true
		return types.NewErr("intercept: the value is larger than max_decode (%d bytes)", b.max)
	}
	return types.DefaultTypeAdapter.NativeToValue(celValue(decode(raw)))
}

// with applies f to the decoded raw, or passes on the error past the bound.
func (b *celBound) with(raw []byte, f func(ref.Val) ref.Val) ref.Val {
	v := b.whole(raw)
	if types.IsError(v) {
		return v
	}
	return f(v)
}

// wholeIterator iterates over the decoded raw; past the bound over nothing
// (the evaluation is marked tooLarge, so its result does not count).
func (b *celBound) wholeIterator(raw []byte) traits.Iterator {
	if it, ok := b.whole(raw).(traits.Iterable); ok {
		return it.Iterator()
	}
	return types.NewDynamicList(types.DefaultTypeAdapter, []any{}).Iterator()
}

// celObject is a JSON object of the message, read member by member. What
// it found is kept, so that an expression that reads the same member again
// (in a comprehension, say) does not walk a large message again.
type celObject struct {
	raw     []byte
	b       *celBound
	members map[string]ref.Val // by name; nil: absent
}

func (o *celObject) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.NewErr("no such key: %v", key), false
	}
	if v, seen := o.members[string(k)]; seen {
		return v, v != nil
	}
	var v ref.Val
	if raw, ok := pipeline.ValueAt(o.raw, []string{string(k)}); ok {
		v = o.b.value(raw)
	}
	if o.members == nil {
		o.members = make(map[string]ref.Val)
	}
	o.members[string(k)] = v // nil: absent
	return v, v != nil
}

func (o *celObject) Get(key ref.Val) ref.Val {
	v, ok := o.Find(key)
	if !ok && v == nil {
		return types.NewErr("no such key: %v", key)
	}
	return v
}

func (o *celObject) Contains(key ref.Val) ref.Val {
	v, ok := o.Find(key)
	if types.IsError(v) {
		return v
	}
	return types.Bool(ok)
}

func (o *celObject) Size() ref.Val {
	return o.b.with(o.raw, func(v ref.Val) ref.Val { return v.(traits.Sizer).Size() })
}
func (o *celObject) Iterator() traits.Iterator { return o.b.wholeIterator(o.raw) }
func (o *celObject) Equal(other ref.Val) ref.Val {
	return o.b.with(o.raw, func(v ref.Val) ref.Val { return v.Equal(other) })
}
func (o *celObject) Type() ref.Type { return types.MapType }
func (o *celObject) Value() any     { return o.b.whole(o.raw).Value() }
func (o *celObject) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return o
	case types.TypeType:
		return types.MapType
	}
	return o.b.with(o.raw, func(v ref.Val) ref.Val { return v.ConvertToType(t) })
}

func (o *celObject) ConvertToNative(t reflect.Type) (any, error) {
	return convertWhole(o.b.whole(o.raw), t)
}

// celArray is a JSON array of the message, read element by element (and
// kept, as celObject's members).
type celArray struct {
	raw   []byte
	b     *celBound
	elems map[int]ref.Val
	size  int // -1 until counted
}

func (a *celArray) Get(index ref.Val) ref.Val {
	i, err := types.IndexOrError(index)
	if err != nil {
		return types.WrapErr(err)
	}
	if v, seen := a.elems[i]; seen {
		return v
	}
	raw, ok := pipeline.ValueAt(a.raw, []string{strconv.Itoa(i)})
	if !ok || i < 0 {
		return types.NewErr("index out of range: %d", i)
	}
	if a.elems == nil {
		a.elems = make(map[int]ref.Val)
	}
	a.elems[i] = a.b.value(raw)
	return a.elems[i]
}

func (a *celArray) Size() ref.Val {
	if a.size < 0 {
		a.size = pipeline.ArrayLen(a.raw)
	}
	return types.Int(a.size)
}
func (a *celArray) Iterator() traits.Iterator { return a.b.wholeIterator(a.raw) }
func (a *celArray) Contains(v ref.Val) ref.Val {
	return a.b.with(a.raw, func(l ref.Val) ref.Val { return l.(traits.Container).Contains(v) })
}
func (a *celArray) Add(other ref.Val) ref.Val {
	return a.b.with(a.raw, func(l ref.Val) ref.Val { return l.(traits.Adder).Add(other) })
}
func (a *celArray) Equal(other ref.Val) ref.Val {
	return a.b.with(a.raw, func(l ref.Val) ref.Val { return l.Equal(other) })
}
func (a *celArray) Type() ref.Type { return types.ListType }
func (a *celArray) Value() any     { return a.b.whole(a.raw).Value() }
func (a *celArray) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.ListType:
		return a
	case types.TypeType:
		return types.ListType
	}
	return a.b.with(a.raw, func(l ref.Val) ref.Val { return l.ConvertToType(t) })
}

func (a *celArray) ConvertToNative(t reflect.Type) (any, error) {
	return convertWhole(a.b.whole(a.raw), t)
}

func convertWhole(v ref.Val, t reflect.Type) (any, error) {
	if err, ok := v.(*types.Err); ok {
		return nil, err
	}
	return v.ConvertToNative(t)
}

// Interface guards.
var (
	_ traits.Mapper = (*celObject)(nil)
	_ traits.Lister = (*celArray)(nil)
)
