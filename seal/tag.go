package seal

// purposeTag separates tags from session ids sealed under the same key.
const purposeTag = 't'

// Tag is what a sealed tag carries: what the gateway puts where a client
// hands it back later and must not be able to choose it — a cursor or
// requestState that names the upstream it came from, a task id.
type Tag struct {
	// Owner names the instance that must serve a request carrying the tag
	// (its node_url: the tag names a process that lives there); empty when
	// any instance can.
	Owner string
	// Value is the gateway's own form of the tag, which the caller reads.
	Value string
}

// SealTag returns t sealed as a tag bound to b; opening it elsewhere
// (another endpoint, another user) fails. Its length is SealedLen of
// len(Owner)+len(Value)+1 (when Owner is shorter than 128 bytes).
func (r *Ring) SealTag(b Binding, t Tag) string {
	pt := make([]byte, 0, len(t.Owner)+len(t.Value)+2)
	pt = append(appendString(pt, t.Owner), t.Value...)
	return r.Seal(pt, tagAD(b))
}

// OpenTag returns what a tag SealTag made for b carries, else ErrInvalid
// whatever the reason. A session id is not a tag, nor a tag a session id.
func (r *Ring) OpenTag(tag string, b Binding) (Tag, error) {
	pt, err := r.Open(tag, tagAD(b))
	if err != nil {
		return Tag{}, ErrInvalid
	}
	d := decoder{b: pt}
	owner := d.string()
	if d.bad {
		return Tag{}, ErrInvalid
	}
	return Tag{Owner: owner, Value: string(d.b)}, nil
}

func tagAD(b Binding) []byte { return bindingAD(purposeTag, b) }

// Codec seals and opens the tags of one endpoint and user with a ring: the
// upstream/tags Codec of a cluster.
type Codec struct {
	// Ring holds the cluster's keys.
	Ring *Ring
	// Binding is the endpoint and the user the tags are for.
	Binding Binding
	// Node is this instance's node_url, the owner of the tags it marks as
	// owned ("" when it has none: any instance serves every tag).
	Node string
}

// Seal returns value sealed as a tag, naming Node as its owner if owned.
func (c *Codec) Seal(value string, owned bool) string {
	t := Tag{Value: value}
	if owned {
		t.Owner = c.Node
	}
	return c.Ring.SealTag(c.Binding, t)
}

// Open returns the value and the owner of a tag Seal made for Binding.
func (c *Codec) Open(token string) (value, owner string, ok bool) {
	t, err := c.Ring.OpenTag(token, c.Binding)
	return t.Value, t.Owner, err == nil
}
