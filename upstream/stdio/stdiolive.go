package stdio

import (
	"errors"
	"fmt"
)

// stdioLive is what of a Upstream's settings a configuration reload may change
// while its processes run.
type stdioLive struct {
	opts           Options // with defaults
	maxMessageSize int
}

// SetLive applies new settings to a running upstream, so a reload that only
// tunes them keeps every session and process: ProbeTimeout (the next probe),
// Shared and MaxInFlight (the next 2026-07-28 request: a higher bound admits
// waiting requests at once; shared processes beyond a lower Shared run on
// and are not replaced) and maxMessageSize (connections and shared processes
// opened from now on; those open keep theirs). Protocol cannot change: a
// server of another era is another upstream.
func (s *Upstream) SetLive(opts Options, maxMessageSize int) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	opts = opts.withDefaults()
	if opts.Protocol != s.opts.Protocol {
		return fmt.Errorf("upstream: the protocol of a running stdio upstream cannot change (from %s to %s)",
			s.opts.Protocol, opts.Protocol)
	}
	if maxMessageSize <= 0 {
		return errors.New("upstream: the message size bound must be positive")
	}
	s.live.Store(&stdioLive{opts: opts, maxMessageSize: maxMessageSize})
	s.shared.mu.Lock()
	s.shared.broadcastLocked() // waiting Calls look at the new bounds
	s.shared.mu.Unlock()
	return nil
}

// current returns the settings in force: the last SetLive's, else those the
// Upstream was made with.
func (s *Upstream) current() stdioLive {
	if l := s.live.Load(); l != nil {
		return *l
	}
	return stdioLive{opts: s.opts, maxMessageSize: s.maxMessageSize}
}

// options are the Options in force; see SetLive.
func (s *Upstream) options() Options { return s.current().opts }

// messageLimit is the message size bound in force; see SetLive.
func (s *Upstream) messageLimit() int { return s.current().maxMessageSize }
