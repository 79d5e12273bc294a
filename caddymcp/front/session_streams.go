package front

import (
	"slices"
	"strconv"
)

// A session's SSE streams: the standalone GET stream (index 0) and one per
// POST answered as SSE, kept for clients that resume with Last-Event-ID.

// retainedStreams is how many finished POST streams a session keeps for
// clients that come back with Last-Event-ID.
const retainedStreams = 16

// getStreamIndex is the index of the standalone GET stream; POST streams
// count up from 1.
const getStreamIndex = 0

// unpublishedStream marks the key of a POST stream whose index no event id
// has carried yet: one that may still be answered as plain JSON. It gets
// the next index when its first event id goes out (publishStream); one
// answered as JSON never does, so no index the client can name was a
// request answered without a stream, and a Last-Event-ID naming one is
// refused like any other id the gateway never sent. (The keys, with the
// top bit set, are above every index a session reaches.)
const unpublishedStream = uint64(1) << 63

// newPostStream creates the stream that answers one POST, and forgets the
// oldest finished streams beyond the retention bound. Its index is
// published at once: the answer will be a stream whatever comes.
func (s *Session) newPostStream() (*stream, error) { return s.addPostStream(true) }

// addPostStream is newPostStream; unless published, the stream is kept
// under an unpublished key until publishStream.
func (s *Session) addPostStream(published bool) (*stream, error) {
	st := s.store.budget.newStream(0, s.settings.Load().replay)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errSessionClosed
	}
	if published {
		st.index = s.nextStream
		s.nextStream++
	} else {
		st.index = unpublishedStream | s.unpublished
		s.unpublished++
	}
	s.streams[st.index] = st
	s.order = append(s.order, st.index)
	s.pruneLocked()
	return st, nil
}

func (s *Session) pruneLocked() {
	// Newest first, count the finished streams; beyond the bound they go,
	// and their place in order is marked with getStreamIndex, which no POST
	// stream has. (Filtering into order[:0] while walking it backwards
	// would overwrite entries not yet read.)
	finished := 0
	for i := len(s.order) - 1; i >= 0; i-- {
		idx := s.order[i]
		st := s.streams[idx]
		if st == nil {
			s.order[i] = getStreamIndex
			continue
		}
		if st.isClosed() {
			finished++
			if finished > retainedStreams {
				delete(s.streams, idx)
				st.release()
				s.order[i] = getStreamIndex
			}
		}
	}
	s.order = slices.DeleteFunc(s.order, func(idx uint64) bool { return idx == getStreamIndex })
}

// publishStream gives an unpublished stream the next index, before its
// first event id goes out. Only the goroutine answering the POST calls it,
// before any other can find the stream under an index.
func (s *Session) publishStream(st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := st.index
	if key&unpublishedStream == 0 {
		return
	}
	st.index = s.nextStream
	s.nextStream++
	if s.streams[key] == st {
		delete(s.streams, key)
		s.streams[st.index] = st
	}
	if i := slices.Index(s.order, key); i >= 0 {
		s.order[i] = st.index
	}
}

// stream returns the stream with the given index, or nil.
func (s *Session) stream(index uint64) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams[index]
}

// forgetStream drops a finished POST stream whose events all reached a
// client.
func (s *Session) forgetStream(st *stream) {
	if st.index == getStreamIndex {
		return
	}
	s.mu.Lock()
	delete(s.streams, st.index)
	s.mu.Unlock()
	st.release()
}

// requestStream returns the stream that carries the responses to the
// requests of one POST: a new POST stream (published at once when the
// answer is sure to be a stream), or a 2024-11-05 session's GET stream.
func (s *Session) requestStream(published bool) (*stream, error) {
	if !s.sse2024 {
		return s.addPostStream(published)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errSessionClosed
	}
	return s.streams[getStreamIndex], nil
}

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
