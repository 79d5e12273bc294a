package seal

// purposeTag separates tags from session ids sealed under the same key.
const purposeTag = 't'

// SealTag returns value sealed as a tag bound to b: what the gateway puts
// where a client hands it back later and must not be able to choose it — a
// cursor or requestState that names the upstream it came from, a task id.
// The caller decides what value holds; opening it elsewhere (another
// endpoint, another user) fails.
func (r *Ring) SealTag(b Binding, value []byte) string {
	return r.Seal(value, tagAD(b))
}

// OpenTag returns the value of a tag SealTag made for b, else ErrInvalid
// whatever the reason. A session id is not a tag, nor a tag a session id.
func (r *Ring) OpenTag(tag string, b Binding) ([]byte, error) {
	return r.Open(tag, tagAD(b))
}

func tagAD(b Binding) []byte { return bindingAD(purposeTag, b) }
