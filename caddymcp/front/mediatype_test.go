package front

import (
	"mime"
	"testing"
)

// TestMediaTypeAsMime: the fast path of mediaType judges every media type
// as mime.ParseMediaType does.
func TestMediaTypeAsMime(t *testing.T) {
	for _, v := range []string{
		"application/json", "Application/JSON", " text/event-stream ", "*/*", "text/*", "application",
		"application/", "/json", "", " ", "application/json/x", "appli cation/json", "application/js on",
		"application/json,", "text/event-stream\t", "a@b/c", "application/(json)", "application/jsön",
		"application/json; charset=utf-8", "application/json;q=0", "application/json; q=", "x/y;", "\x7f/json",
	} {
		mt, params, err := mediaType(v)
		wantMT, wantParams, wantErr := mime.ParseMediaType(v)
		if mt != wantMT || (err == nil) != (wantErr == nil) || len(params) != len(wantParams) {
			t.Errorf("mediaType(%q) = %q %v %v; mime.ParseMediaType: %q %v %v", v, mt, params, err, wantMT, wantParams, wantErr)
		}
	}
}
