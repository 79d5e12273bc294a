//go:build caddymcp_noobserve

package caddymcp

// observeRequests is false in a build with the tag caddymcp_noobserve, made
// only to benchmark the cost of metrics and placeholders (see observe.go).
const observeRequests = false
