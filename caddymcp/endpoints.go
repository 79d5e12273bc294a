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

// endpointClaim is the configuration that claimed an endpoint name.
type endpointClaim struct {
	config   []byte // the handler's JSON as configured
	explicit bool   // the name was configured (or filled in by the Caddyfile), not a default
}

// claimEndpoint returns the name of an mcp_proxy handler of this
// configuration, which keys its session store: name, else fallback (its
// default, defaultEndpointName). Handlers configured alike get the same;
// a second, differently configured handler with the same default gets it
// with "#2" appended (and so on, in the order of provisioning); one with
// the same configured name is refused, since a name says "this endpoint".
func (a *App) claimEndpoint(name, fallback string, config []byte) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.endpoints == nil {
		a.endpoints = make(map[string]endpointClaim)
	}
	if name != "" {
		c, taken := a.endpoints[name]
		switch {
		case !taken:
			a.endpoints[name] = endpointClaim{config: config, explicit: true}
		case !bytes.Equal(c.config, config) && c.explicit:
			return "", fmt.Errorf("mcp_proxy: name %q is used by two mcp_proxy handlers configured differently; "+
				"a name is one endpoint, whose sessions answer only there: give each endpoint its own name", name)
		case !bytes.Equal(c.config, config):
			return "", fmt.Errorf("mcp_proxy: name %q is the default name of another mcp_proxy handler, configured "+
				"without a name; give that one a name of its own", name)
		}
		return name, nil
	}
	for n := 1; ; n++ {
		key := fallback
		if n > 1 {
			key += "#" + strconv.Itoa(n)
		}
		c, taken := a.endpoints[key]
		if !taken {
			a.endpoints[key] = endpointClaim{config: config}
			return key, nil
		}
		if !c.explicit && bytes.Equal(c.config, config) {
			return key, nil
		}
	}
}
