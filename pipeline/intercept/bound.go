package intercept

import (
	"go.uber.org/zap"
)

// DefaultMaxDecode is the largest JSON object or array, in bytes, a rule
// decodes when the engine is given no other bound: a field's value, or one
// a CEL expression uses whole. Decoding into Go values costs many times the
// value's size (a 4 MB message of small values took some 130 MB), so
// several large messages at once must not each be decoded.
const DefaultMaxDecode = 1 << 20

// MaxDecode bounds what a rule decodes to n bytes of JSON (n <= 0:
// DefaultMaxDecode). A rule that would have to decode more cannot judge
// the message; it applies as if it matched (see README: the safe side for
// a rule meant to block, pause or edit what it matches), and the engine
// logs a warning and calls the OnTooLarge hook. Strings, numbers and
// literals are read where they are, whatever their size. Call it before the
// engine serves.
func (e *Engine) MaxDecode(n int64) {
	if n <= 0 {
		n = DefaultMaxDecode
	}
	e.maxDecode = n
}

// OnTooLarge makes the engine call f with a rule's name each time the rule
// could not judge a message because what it reads is larger than MaxDecode
// (and so applied as if it matched). f must be quick and safe for
// concurrent use. Call it before the engine serves.
func (e *Engine) OnTooLarge(f func(rule string)) { e.onTooLarge = f }

// tooLargeMessage is the error message of a block rule that could not
// judge the message it blocks.
const tooLargeMessage = "the message is too large for the gateway's rule to judge"

// tooLarge reports that rule r could not judge the message and applies as
// if it matched.
func (e *Engine) tooLarge(st *evaluation, r *compiledRule) {
	e.logger.Warn("intercept: a message is too large for a rule to judge (max_decode); the rule applies as if it matched",
		st.fields(r, zap.Int("size", len(st.raw)), zap.Int64("max_decode", e.maxDecode))...)
	if e.onTooLarge != nil {
		e.onTooLarge(r.name)
	}
}

// unresolvedMessage is the error message of a block rule on servers that
// could not tell the server of the message it blocks.
const unresolvedMessage = "the gateway cannot tell which server this names yet (list them first), and a rule on its servers applies"

// unjudged reports a rule that applies without having judged the message
// (j) and returns the message a block of it answers with ("" when it
// judged it).
func (e *Engine) unjudged(st *evaluation, r *compiledRule, j judgement) string {
	switch j {
	case tooLarge:
		e.tooLarge(st, r)
		return tooLargeMessage
	case unresolved:
		e.logger.Warn("intercept: the server of a message is unknown (a name no list showed yet); the rule on servers applies as if it matched",
			st.fields(r)...)
		return unresolvedMessage
	}
	return ""
}
