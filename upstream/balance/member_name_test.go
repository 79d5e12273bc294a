package balance

import "testing"

// TestValidMemberName: a federated replica's <server>/<replica> names a
// member; other names with a slash do not.
func TestValidMemberName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"node", true},
		{"github/npx", true},
		{"docs/127.0.0.1-8080", true},
		{"a/b/c", false},
		{"/npx", false},
		{"github/", false},
		{"github/-x", false},
		{"git hub/npx", false},
	} {
		if err := ValidMemberName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidMemberName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
