package front

import "net/http"

// testClients is a Clients of functions; those left nil answer as
// NoClients does.
type testClients struct {
	NoClients
	user   func(*http.Request) string
	key    func(*http.Request) string
	claims func(*http.Request) func(string) (string, bool)
}

func (c testClients) User(r *http.Request) string {
	if c.user == nil {
		return ""
	}
	return c.user(r)
}

func (c testClients) Key(r *http.Request) string {
	if c.key == nil {
		return ""
	}
	return c.key(r)
}

func (c testClients) Claims(r *http.Request) func(string) (string, bool) {
	if c.claims == nil {
		return nil
	}
	return c.claims(r)
}

// userHeader is the user of a request in tests: its X-Test-User.
func userHeader(r *http.Request) string { return r.Header.Get("X-Test-User") }

// headerUsers are clients whose user is their X-Test-User.
var headerUsers = testClients{user: userHeader}

// testObserver is an Observer of functions; those left nil hear nothing.
type testObserver struct {
	onRequest func(*http.Request, *RequestInfo)
	onAnswer  func(Answered)
	onStream  func(ClientStream, int)
}

func (o testObserver) OnRequest(_ http.ResponseWriter, r *http.Request, info *RequestInfo) {
	if o.onRequest != nil {
		o.onRequest(r, info)
	}
}

func (o testObserver) OnAnswer(a Answered) {
	if o.onAnswer != nil {
		o.onAnswer(a)
	}
}

func (o testObserver) OnStream(kind ClientStream, delta int) {
	if o.onStream != nil {
		o.onStream(kind, delta)
	}
}
