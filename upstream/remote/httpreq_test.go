package remote

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"reflect"
	"testing"
)

// TestNewRequestAsNewRequestWithContext checks that a request built from
// the parsed upstream URL is the one http.NewRequestWithContext builds,
// body and GetBody included, and that changing its URL leaves the
// upstream's alone.
func TestNewRequestAsNewRequestWithContext(t *testing.T) {
	for _, tc := range []struct {
		url    string
		method string
		body   []byte
	}{
		{"http://example.com/mcp", http.MethodPost, []byte(`{"jsonrpc":"2.0"}`)},
		{"http://example.com:8080/mcp?key=v", http.MethodGet, nil},
		{"http://example.com:/mcp", http.MethodPost, []byte{}},
		{"http://[::1]:9000/", http.MethodDelete, nil},
		{"https://example.com/a%2Fb", http.MethodPost, []byte("x")},
	} {
		t.Run(tc.url, func(t *testing.T) {
			h, err := NewHTTP(Config{URL: tc.url})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			got, err := h.newRequest(ctx, tc.method, h.url, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			var rd io.Reader
			if tc.body != nil {
				rd = bytesReader(tc.body)
			}
			want, err := http.NewRequestWithContext(ctx, tc.method, h.url, rd)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.URL, want.URL) || got.Host != want.Host || got.Method != want.Method ||
				got.Proto != want.Proto || got.ContentLength != want.ContentLength ||
				(got.Body == nil) != (want.Body == nil) || (got.GetBody == nil) != (want.GetBody == nil) ||
				(got.Body == http.NoBody) != (want.Body == http.NoBody) || len(got.Header) != len(want.Header) {
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
			for _, r := range []*http.Request{got, want} {
				if r.GetBody == nil {
					continue
				}
				for range 2 {
					b, err := r.GetBody()
					if err != nil {
						t.Fatal(err)
					}
					if data, _ := io.ReadAll(b); string(data) != string(tc.body) {
						t.Fatalf("GetBody gave %q", data)
					}
				}
			}
			before := *h.u
			got.URL.Host, got.URL.Path = "elsewhere", "/changed"
			if *h.u != before {
				t.Fatal("changing a request's URL changed the upstream's")
			}
		})
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
