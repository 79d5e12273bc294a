package oauth

import (
	"encoding/json"
	"strings"
)

// tokenScopes reads the scopes a token grants: the RFC 9068 / RFC 8693
// `scope` claim (space-separated), else `scp` (an array, as Azure AD and
// Okta send it, or a space-separated string).
func tokenScopes(scope *string, scp json.RawMessage) []string {
	if scope != nil {
		return strings.Fields(*scope)
	}
	if len(scp) == 0 {
		return nil
	}
	var list []string
	if json.Unmarshal(scp, &list) == nil {
		return list
	}
	var s string
	if json.Unmarshal(scp, &s) == nil {
		return strings.Fields(s)
	}
	return nil
}

// MissingScopes returns the scopes of need that have lacks, in need's
// order; nil when none is missing.
func MissingScopes(have, need []string) []string {
	set := make(map[string]struct{}, len(have))
	for _, s := range have {
		set[s] = struct{}{}
	}
	var missing []string
	for _, s := range need {
		if _, ok := set[s]; !ok {
			missing = append(missing, s)
		}
	}
	return missing
}
