package caddymcp

import (
	"fmt"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// pointerReader is a stage whose rules read members of messages by JSON
// pointer (the intercept stage).
type pointerReader interface {
	ReadPointers() []string
}

// stagesWatch is what the front refuses to see spelled in another case in
// a client message: the protocol's members and those on the way to what
// the stages' rules read. A Go server folds the case of member names, so
// {"arguments":{"Path":"/etc/passwd"}} is path "/etc/passwd" to it and no
// path to a rule that reads /params/arguments/path.
func stagesWatch(stages []pipeline.Stage) (*pipeline.Watch, error) {
	var pointers []string
	for _, s := range stages {
		if named, ok := s.(stageName); ok {
			s = named.Stage
		}
		if r, ok := s.(pointerReader); ok {
			pointers = append(pointers, r.ReadPointers()...)
		}
	}
	if len(pointers) == 0 {
		return nil, nil
	}
	w, err := pipeline.NewWatch(pointers...)
	if err != nil {
		return nil, fmt.Errorf("mcp_proxy: pipeline: %v", err)
	}
	return w, nil
}
