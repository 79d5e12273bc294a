package console

import (
	"bytes"
	"embed"
	"sync"
)

// consoleFiles are the page's files: plain HTML, CSS and JavaScript, no
// build step, nothing fetched from elsewhere.
//
//go:embed index.html console.css console.js pins.js
var consoleFiles embed.FS

// consoleTokenPlaceholder is replaced by the CSRF token in the page.
const consoleTokenPlaceholder = "{{CONSOLE_TOKEN}}"

type consoleAsset struct {
	contentType string
	body        []byte
}

// consoleAssets are the console's files by path below its mount, the
// page with this process's token in it.
var consoleAssets = sync.OnceValue(func() map[string]consoleAsset {
	read := func(name string) []byte {
		b, err := consoleFiles.ReadFile(name)
		if err != nil {
			panic("caddymcp: embedded console file missing: " + err.Error()) // the embed pattern names it
		}
		return b
	}
	page := bytes.ReplaceAll(read("index.html"), []byte(consoleTokenPlaceholder), []byte(consoleToken()))
	return map[string]consoleAsset{
		"/":            {"text/html; charset=utf-8", page},
		"/index.html":  {"text/html; charset=utf-8", page},
		"/console.css": {"text/css; charset=utf-8", read("console.css")},
		"/console.js":  {"text/javascript; charset=utf-8", read("console.js")},
		"/pins.js":     {"text/javascript; charset=utf-8", read("pins.js")},
	}
})
