package caddymcp

import (
	"testing"
)

func TestAddressesHoldNoSecrets(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://user:secret@mcp.example.com/mcp?api_key=secret#frag", "https://mcp.example.com:443"},
		{"http://10.0.0.1:8080/v1/secret-path", "http://10.0.0.1:8080"},
		{"http://[::1]/mcp", "http://[::1]:80"},
		{"mcp.example.com/mcp", ""},
		{"http://%zz", ""},
	} {
		if got := httpAddress(c.in); got != c.want {
			t.Errorf("httpAddress(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"/home/alice/bin/server --token=x", "server --token=x"}, // one executable path, spaces and all
		{"/usr/bin/npx", "npx"},
		{"npx", "npx"},
		{"", ""},
	} {
		if got := commandName(c.in); got != c.want {
			t.Errorf("commandName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
