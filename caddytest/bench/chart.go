package main

import (
	"fmt"
	"html"
	"strings"
)

// chartSVG draws three bar charts side by side — throughput, p99 latency
// and the server side's CPU per call, per target — as a standalone SVG
// document.
func chartSVG(r *results) string {
	var rows []loadResult
	for _, l := range r.Load {
		if l.Calls > 0 {
			rows = append(rows, l)
		}
	}
	const (
		width     = 1160
		labelW    = 250 // label column, right-aligned at labelW
		panelW    = 265
		gap       = 40
		top       = 78
		rowH      = 34
		barH      = 20
		fontStack = "font-family=\"Helvetica, Arial, sans-serif\""
	)
	p1 := labelW + 12
	p2 := p1 + panelW + gap
	p3 := p2 + panelW + gap
	height := top + rowH*max(len(rows), 1) + 30 + 18*3

	var maxTP, maxP99, maxCPU float64
	for _, l := range rows {
		maxTP = max(maxTP, l.Throughput)
		maxP99 = max(maxP99, float64(l.P99)/1e6)
		maxCPU = max(maxCPU, float64(l.CPUPerCall)/1e3)
	}
	var sb strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s font-size="13">`+"\n",
		width, height, width, height, fontStack)
	w(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	c := r.Cfg
	w(`<text x="16" y="26" font-size="17" font-weight="bold">%s</text>`+"\n",
		esc(fmt.Sprintf("MCP echo calls through each target: %d sessions, %v each", c.sessions, c.duration)))
	w(`<text x="16" y="46" fill="#555">%s</text>`+"\n", esc(fmt.Sprintf(
		"one run on %d cores (%s); load generator, proxies and servers share the machine; CPU: of the process the "+
			"clients talk to (Caddy, Node, or the echo server itself)", r.Machine.Cores, orDash(r.Machine.CPU))))
	w(`<text x="%d" y="%d" font-weight="bold">calls/s (higher is better)</text>`+"\n", p1, top-10)
	w(`<text x="%d" y="%d" font-weight="bold">p99 latency, ms (lower is better)</text>`+"\n", p2, top-10)
	w(`<text x="%d" y="%d" font-weight="bold">CPU per call, µs (lower is better)</text>`+"\n", p3, top-10)

	for i, l := range rows {
		y := top + i*rowH
		cy := y + barH/2 + 5
		weight := "normal"
		if strings.HasPrefix(l.Target, "caddy-mcp") {
			weight = "bold"
		}
		w(`<text x="%d" y="%d" text-anchor="end" font-weight="%s">%s</text>`+"\n", labelW, cy, weight, esc(l.name()))
		w(`<text x="%d" y="%d" text-anchor="end" fill="#777" font-size="11">%s</text>`+"\n", labelW, cy+14, esc(chartSubtitle(l)))
		bar(&sb, p1, y, panelW, barH, l.Throughput, maxTP, colorFor(l.Target), thousands(int64(l.Throughput+0.5)))
		bar(&sb, p2, y, panelW, barH, float64(l.P99)/1e6, maxP99, colorFor(l.Target), ms(l.P99))
		bar(&sb, p3, y, panelW, barH, float64(l.CPUPerCall)/1e3, maxCPU, colorFor(l.Target), us(l.CPUPerCall))
	}
	// Axes.
	axisBottom := top + rowH*max(len(rows), 1) - (rowH - barH)
	for _, x := range []int{p1, p2, p3} {
		w(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", x, top-4, x, axisBottom+4)
	}
	notes := chartNotes(r)
	for i, n := range notes {
		w(`<text x="16" y="%d" fill="#333">%s</text>`+"\n", axisBottom+34+18*i, esc(n))
	}
	w("</svg>\n")
	return sb.String()
}

// chartNotes are the lines under the chart: caddy-mcp against supergateway
// and against reverse_proxy, where both were measured.
func chartNotes(r *results) []string {
	var notes []string
	if l := findLoad(r, targetSG, ""); l != nil && l.Calls > 0 {
		if m := findLoad(r, targetMCPStdio, ""); m != nil && m.Calls > 0 {
			notes = append(notes, fmt.Sprintf("caddy-mcp → stdio: %s supergateway's calls/s, %s its CPU per call",
				times(m.Throughput/l.Throughput), times(float64(m.CPUPerCall)/float64(max(l.CPUPerCall, 1)))))
		}
	}
	for _, a := range r.Cfg.answers {
		if l := findLoad(r, targetRevProxy, a); l != nil && l.Calls > 0 {
			if m := findLoad(r, targetMCPHTTP, a); m != nil && m.Calls > 0 {
				notes = append(notes, fmt.Sprintf("caddy-mcp → HTTP (%s answers): %s reverse_proxy's calls/s, %s its CPU per call",
					a, times(m.Throughput/l.Throughput), times(float64(m.CPUPerCall)/float64(max(l.CPUPerCall, 1)))))
			}
		}
	}
	return notes
}

// chartSubtitle is the small line under a row's label: what is behind it.
func chartSubtitle(l loadResult) string {
	sub := l.Upstream + " upstream"
	if l.Target == targetEcho {
		sub = "no proxy (the floor)"
	}
	if l.Answers != "" {
		sub += ", " + l.Answers + " answers"
	}
	return sub
}

// bar draws one horizontal bar scaled to maxV in a panel of width pw, with
// its value written after it (or inside, when it fills the panel).
func bar(sb *strings.Builder, x, y, pw, h int, v, maxV float64, color, label string) {
	bw := 0
	if maxV > 0 {
		bw = int(v / maxV * float64(pw-70))
	}
	bw = max(bw, 1)
	fmt.Fprintf(sb, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" rx="2"/>`+"\n", x, y, bw, h, color)
	fmt.Fprintf(sb, `<text x="%d" y="%d" fill="#222">%s</text>`+"\n", x+bw+6, y+h/2+5, esc(label))
}

func colorFor(target string) string {
	switch target {
	case targetEcho:
		return "#9aa5b1"
	case targetSG:
		return "#d9822b"
	case targetMCPProxy:
		return "#b45f06"
	case targetMCPStdio, targetMCPHTTP:
		return "#1f6fb2"
	case targetRevProxy:
		return "#6aa84f"
	}
	return "#888888"
}

func esc(s string) string { return html.EscapeString(s) }
