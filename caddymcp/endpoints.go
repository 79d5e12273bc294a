package caddymcp

import (
	"bytes"
	"fmt"
	"strconv"
)

// A session answers only on the endpoint that minted it: a session store
// is shared by two mcp_proxy handlers of one configuration only when they
// are the same endpoint — configured alike, such as one site block served
// on two listeners. Otherwise a session minted on a lenient route would
// run on a stricter one under the lenient one's rules (the class of
// GHSA-mvgg-jvj2-4frq). Sessions are bound to their user besides, so a
// route with other authentication in front of a shared store cannot use
// another route's sessions either.

// endpointClaim is one distinct configuration that claimed a store key.
type endpointClaim struct {
	config []byte // the handler's JSON as configured
	key    string // the session store key it got
}

// claimEndpoint returns the session store key of an mcp_proxy handler of
// this configuration: its name, else one derived from its upstreams
// (derived). Handlers configured alike get the same key; a second,
// differently configured handler with the same derived key gets the key
// with "#2" appended (and so on, in configuration order); one with the
// same explicit name is refused, since a name says "this endpoint".
func (a *App) claimEndpoint(name, derived string, config []byte) (string, error) {
	base := name
	if base == "" {
		base = "derived:" + derived
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	claims := a.endpoints[base]
	for _, c := range claims {
		if bytes.Equal(c.config, config) {
			return c.key, nil
		}
	}
	if name != "" && len(claims) > 0 {
		return "", fmt.Errorf("mcp_proxy: name %q is used by two mcp_proxy handlers configured differently; "+
			"a name is one endpoint, whose sessions answer only there: give each endpoint its own name", name)
	}
	key := base
	if len(claims) > 0 {
		key += "#" + strconv.Itoa(len(claims)+1)
	}
	if a.endpoints == nil {
		a.endpoints = make(map[string][]endpointClaim)
	}
	a.endpoints[base] = append(claims, endpointClaim{config: config, key: key})
	return key, nil
}
