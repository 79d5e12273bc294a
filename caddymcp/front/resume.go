package front

import "strconv"

// resumeTarget finds the stream a Last-Event-ID names in this session and
// checks the id against what the session ever sent. problem is "" for an
// id the gateway could have sent: then st is the stream, or nil when the
// stream finished and is no longer retained (the caller answers an empty,
// ended stream: a 404 would make the client drop a live session). Else
// problem says, for a 400, what is wrong with the id: a stream index this
// session never reached, or an event beyond what the stream sent.
func (s *Session) resumeTarget(index, seq uint64) (st *stream, problem string) {
	s.mu.Lock()
	next := s.nextStream
	st = s.streams[index]
	s.mu.Unlock()
	if index != getStreamIndex && index >= next {
		return nil, "names stream " + strconv.FormatUint(index, 10) + ", which this session never had"
	}
	if st == nil {
		return nil, ""
	}
	if last := st.lastSeq(); seq > last {
		return nil, "names event " + strconv.FormatUint(seq, 10) + " of stream " + strconv.FormatUint(index, 10) +
			", which has sent only " + strconv.FormatUint(last, 10)
	}
	return st, ""
}
