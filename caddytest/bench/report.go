package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// markdown renders the results as the report bench prints and writes to
// bench.md, a section at a time.
func markdown(r *results) string {
	var md mdWriter
	md.loadTable(r)
	md.loadNotes(r)
	md.sdkSection(r)
	md.cpuSection(r)
	md.startupSection(r)
	md.memorySection(r)
	md.runSection(r)
	return md.String()
}

// mdWriter accumulates the report.
type mdWriter struct{ strings.Builder }

func (md *mdWriter) w(format string, args ...any) { fmt.Fprintf(md, format, args...) }

// loadTable writes the throughput and latency table with its footnotes.
func (md *mdWriter) loadTable(r *results) {
	w := md.w
	c := r.Cfg
	w("### Throughput and latency\n\n")
	w("%d concurrent sessions (%s at protocol %s, one session each, no standalone GET stream), "+
		"each calling `echo` with a unique text in a loop; every answer is checked. Each target is measured for %v "+
		"in all: %d round(s) of %v after a %v warm-up, targets in turn, every target started afresh each round. "+
		"The echo server is a go-sdk server (caddytest/bench/echoserver); %s.\n\n",
		c.sessions, clientText(c.client), protocolRevision, c.duration, c.rounds, c.duration/time.Duration(c.rounds), c.warmup,
		answersText(c.answers))
	sg := findLoad(r, baselineStdio, "")
	w("| target | upstream | calls/s | p50 | p95 | p99 | calls | errors | CPU per call¹ | calls/s vs supergateway | calls/s vs reverse_proxy² |\n")
	w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range r.Load {
		up := l.Upstream
		if l.Answers != "" {
			up += ", " + l.Answers + " answers"
		}
		if l.Target == targetEcho {
			up = "none (" + l.Answers + " answers)"
		}
		if l.Err != "" && l.Calls == 0 {
			w("| %s | %s | — | — | — | — | — | — | — | — | — |\n", l.Label, up)
			continue
		}
		vsSG, vsRP := "—", "—"
		if l.Upstream == "stdio" {
			vsSG = ratio(l.Throughput, sg)
		} else {
			vsRP = ratio(l.Throughput, findLoad(r, baselineHTTP, l.Answers))
		}
		w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", l.Label, up,
			thousands(int64(l.Throughput+0.5)), ms(l.P50), ms(l.P95), ms(l.P99), thousands(l.Calls),
			errCell(l), us(l.CPUPerCall), vsSG, vsRP)
	}
	w("\n¹ CPU time (user + system) of the process the clients talk to — the echo server itself in the direct rows, " +
		"else Caddy or supergateway's Node, not the echo servers behind them — over the measured window, per call.  \n" +
		"² Against reverse_proxy in front of the same echo server answering the same way.\n\n")
}

// loadNotes writes the comparisons under the throughput table, each round's
// throughput and the errors.
func (md *mdWriter) loadNotes(r *results) {
	w := md.w
	c := r.Cfg
	cmp := func(a, b, answers string) {
		x, y := findLoad(r, a, answers), findLoad(r, b, answers)
		if x == nil || y == nil || x.Calls == 0 || y.Calls == 0 {
			return
		}
		cpu := ""
		if x.CPUPerCall > 0 && y.CPUPerCall > 0 {
			cpu = fmt.Sprintf(", CPU per call %s", times(float64(x.CPUPerCall)/float64(y.CPUPerCall)))
		}
		w("- **%s** vs **%s**: %s the throughput, p50 %s, p99 %s%s.\n", x.name(), y.name(),
			times(x.Throughput/y.Throughput), times(float64(x.P50)/float64(y.P50)), times(float64(x.P99)/float64(y.P99)), cpu)
	}
	cmp(targetMCPStdio, targetSG, "")
	cmp(targetMCPStdio, targetMCPProxy, "")
	cmp(targetMCPStdio, targetMCPStdioBase, "")
	w("%s", stdioRounds(r.Load, c.client))
	w("%s", observeCost(r.Load, c.client))
	w("%s", consoleCost(r.Load, c.client))
	cmp(targetMCPStdioRules, targetMCPStdio, "")
	w("%s", federationCost(r.Load, c.client))
	w("%s", listNote(r.Load, c.listCalls))
	for _, a := range c.answers {
		cmp(targetMCPHTTP, targetRevProxy, a)
		cmp(targetMCPHTTP, targetMCPHTTPBase, a)
		cmp(targetMCPHTTP2, targetMCPHTTP, a)
	}
	for _, a := range c.answers {
		cmp(targetMCPHTTP, targetEcho, a)
		cmp(targetRevProxy, targetEcho, a)
	}
	if c.rounds > 1 {
		var parts []string
		for _, l := range r.Load {
			var tp []string
			for _, x := range l.RoundThroughput {
				tp = append(tp, thousands(int64(x+0.5)))
			}
			parts = append(parts, fmt.Sprintf("%s %s", l.name(), strings.Join(tp, " / ")))
		}
		w("- calls/s of each round: %s.\n", strings.Join(parts, "; "))
	}
	for _, l := range r.Load {
		for _, e := range l.ErrorSamples {
			w("- %s error: `%s`\n", l.name(), oneLine(e, 300))
		}
		if l.Err != "" {
			w("- %s: %s\n", l.name(), oneLine(l.Err, 300))
		}
	}
}

// sdkSection writes the stdio targets measured with the go-sdk client.
func (md *mdWriter) sdkSection(r *results) {
	w := md.w
	if len(r.SDKLoad) > 0 {
		w("\n### The stdio targets with the go-sdk client\n\n")
		w("The same load with the go-sdk client (`StreamableClientTransport`) as the load generator, in the same run. " +
			"It spends more CPU per call than the targets it measures, on the same two cores, so it bounds a fast " +
			"target sooner than a slow one.\n\n")
		w("| target | calls/s | p50 | p95 | p99 | errors | CPU per call | calls/s vs supergateway |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		sdkSG := findIn(r.SDKLoad, baselineStdio, "")
		for _, l := range r.SDKLoad {
			w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", l.Label, thousands(int64(l.Throughput+0.5)), ms(l.P50), ms(l.P95),
				ms(l.P99), errCell(l), us(l.CPUPerCall), ratio(l.Throughput, sdkSG))
		}
		w("\n")
		for _, peer := range []string{baselineStdio, targetMCPProxy} {
			x, y := findIn(r.SDKLoad, targetMCPStdio, ""), findIn(r.SDKLoad, peer, "")
			if x == nil || y == nil || x.Calls == 0 || y.Calls == 0 {
				continue
			}
			w("- **%s** vs **%s** (go-sdk client): %s the throughput, p50 %s, p99 %s, CPU per call %s.\n", x.name(), y.name(),
				times(x.Throughput/y.Throughput), times(float64(x.P50)/float64(y.P50)), times(float64(x.P99)/float64(y.P99)),
				times(float64(x.CPUPerCall)/float64(max(y.CPUPerCall, 1))))
		}
		w("%s", stdioRounds(r.SDKLoad, clientGoSDK))
		w("%s", observeCost(r.SDKLoad, clientGoSDK))
		w("%s", consoleCost(r.SDKLoad, clientGoSDK))
		for _, l := range r.SDKLoad {
			for _, e := range l.ErrorSamples {
				w("- %s (go-sdk client) error: `%s`\n", l.name(), oneLine(e, 300))
			}
		}
	}
}

// cpuSection writes where each target's CPU time goes.
func (md *mdWriter) cpuSection(r *results) {
	w := md.w
	w("\n### Where the CPU goes\n\n")
	w("CPU time per call over the measured windows: the process the clients talk to (the front), the load " +
		"generator (this benchmark's own process), and the rest of the machine's busy time (the servers behind " +
		"the front, and the kernel's work outside those processes). Busy: the share of both cores in use.\n\n")
	w("| target | client | front | load generator | rest | all | busy | front's heap allocations per call |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range append(slices.Clone(r.Load), r.SDKLoad...) {
		if l.Calls == 0 {
			continue
		}
		all := l.CPU.Front + l.CPU.Load + l.CPU.Rest
		busy := "—"
		if l.Elapsed > 0 && r.Machine.Cores > 0 {
			busy = fmt.Sprintf("%.0f %%", 100*float64(all)/float64(l.Elapsed)/float64(r.Machine.Cores))
		}
		allocs := "—"
		if l.AllocsPerCall > 0 {
			allocs = fmt.Sprintf("%.0f", l.AllocsPerCall)
		}
		w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", l.name(), l.Client, us(l.perCall(l.CPU.Front)), us(l.perCall(l.CPU.Load)),
			us(l.perCall(l.CPU.Rest)), us(l.perCall(all)), busy, allocs)
	}
}

// startupSection writes the time to first response of new sessions.
func (md *mdWriter) startupSection(r *results) {
	w := md.w
	if len(r.Startup) > 0 {
		w("\n### Time to first response of a new session\n\n")
		w("From sending `initialize` to holding its result, new sessions one after the other per path " +
			"(each ended with DELETE, then a gap long enough for the pool to start and load its next spare; two " +
			"untimed sessions first).\n\n")
		w("| path | sessions | gap | mean | p50 | min | max | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range r.Startup {
			w("| %s | %d | %v | %s | %s | %s | %s | %d |\n", s.Label, s.Sessions, s.Gap, ms(s.Mean), ms(s.P50), ms(s.Min),
				ms(s.Max), s.Errors)
		}
		warmCold := func(what, warm, cold string) {
			wr, cr := findStartup(r, warm), findStartup(r, cold)
			if wr != nil && cr != nil && wr.Mean > 0 {
				w("- %s: a warm spare answers %s faster than a cold spawn (mean %s vs %s).\n", what,
					times(float64(cr.Mean)/float64(wr.Mean)), ms(wr.Mean), ms(cr.Mean))
			}
		}
		warmCold("Echo server (Go)", "/warm", "/cold")
		warmCold("server-everything (Node)", "/warm-everything", "/cold-everything")
		w("\n")
		for _, s := range r.Startup {
			for _, e := range s.ErrorSamples {
				w("- %s error: `%s`\n", s.Label, oneLine(e, 300))
			}
		}
	}
}

// memorySection writes the proxy's memory per idle session and SSE stream.
func (md *mdWriter) memorySection(r *results) {
	w := md.w
	if r.Idle != nil || r.SSE != nil {
		w("\n### Memory of the proxy (caddy-mcp → HTTP echo server)\n\n")
		w("The Caddy process's live heap (`HeapAlloc` from the admin API's `/debug/vars` after a GC forced " +
			"through `/debug/pprof/heap?gc=1`), its RSS and goroutines, before and after. Idle sessions: initialized, " +
			"then left alone. SSE streams: a GET stream on each of that many sessions (the proxy then holds one " +
			"upstream GET stream each), held open, checked still open at the end, then closed.\n\n")
		w("| what | count | opened in | heap before | heap after | heap each | RSS each | goroutines each | still open | errors |\n")
		w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, m := range []*memResult{r.Idle, r.SSE} {
			if m == nil {
				continue
			}
			heap, rss, gr := m.perItem()
			still := "—"
			if m.Hold > 0 {
				still = fmt.Sprintf("%d after %v", m.StillOpen, m.Hold)
			}
			w("| %s | %s of %s | %s | %s | %s | %s | %s | %.1f | %s | %d |\n", m.What, thousands(int64(m.Opened)),
				thousands(int64(m.N)), m.OpenTime.Round(10*time.Millisecond), mib(m.Before.HeapAlloc), mib(m.After.HeapAlloc),
				kib(heap), kib(rss), gr, still, m.Errors)
		}
		w("\n")
		for _, m := range []*memResult{r.Idle, r.SSE} {
			if m == nil {
				continue
			}
			for _, e := range m.ErrorSamples {
				w("- %s error: `%s`\n", m.What, oneLine(e, 300))
			}
		}
	}
}

// runSection writes the machine, the command and what went wrong.
func (md *mdWriter) runSection(r *results) {
	w := md.w
	c := r.Cfg
	w("\n### Run\n\n")
	mc := r.Machine
	w("- Machine: %d cores (%s), %s RAM, %s; %s, Caddy %s", mc.Cores, orDash(mc.CPU), orDash(mc.Memory),
		orDash(mc.Kernel), mc.Go, orDash(mc.Caddy))
	if mc.Node != "" {
		w(", Node %s (supergateway 4.0.0)", mc.Node)
	}
	if mc.MCPProxyNode != "" {
		w(", Node %s (npm mcp-proxy %s)", mc.MCPProxyNode, mcpProxyVersion)
	}
	w(". Load generator, proxies and servers all share the machine.\n")
	w("- Command: `go run ./caddytest/bench %s` (%v in all).\n", strings.Join(c.args, " "), r.Elapsed.Round(time.Second))
	if len(r.Leftovers) == 0 {
		w("- Processes left over after the run: none.\n")
	} else {
		w("- **Processes left over after the run (killed):** %s.\n", strings.Join(r.Leftovers, ", "))
	}
	for _, p := range r.Problems {
		w("- **Problem:** %s\n", oneLine(p, 500))
	}
}

func answersText(a []string) string {
	if len(a) > 1 {
		return "each HTTP target runs twice, with the echo server answering POSTs with an SSE stream (the go-sdk " +
			"default), then with plain JSON"
	}
	if a[0] == answersJSON {
		return "over HTTP it answers POSTs with plain JSON"
	}
	return "over HTTP it answers POSTs with an SSE stream (the go-sdk default)"
}

// findLoad returns the result of a target (with an answer mode for HTTP
// upstreams: "" takes the first).
func findLoad(r *results, name, answers string) *loadResult { return findIn(r.Load, name, answers) }

func findIn(load []loadResult, name, answers string) *loadResult {
	for i := range load {
		if load[i].Target == name && (answers == "" || load[i].Answers == answers) {
			return &load[i]
		}
	}
	return nil
}

// findStartup returns the time-to-first-response row of a caddy-mcp path.
func findStartup(r *results, path string) *startupResult {
	for i := range r.Startup {
		if r.Startup[i].Path == path {
			return &r.Startup[i]
		}
	}
	return nil
}

func clientText(client string) string {
	if client == clientGoSDK {
		return "go-sdk clients"
	}
	return "clients speaking Streamable HTTP by hand (a POST per call, the JSON or SSE answer parsed and checked: " +
		"light, so that the targets rather than the load generator use up the cores)"
}

func ratio(v float64, base *loadResult) string {
	if base == nil || base.Throughput == 0 {
		return "—"
	}
	return times(v / base.Throughput)
}

func times(x float64) string {
	switch {
	case x >= 10:
		return fmt.Sprintf("%.0f×", x)
	default:
		return fmt.Sprintf("%.2f×", x)
	}
}

func errCell(l loadResult) string {
	s := thousands(l.Errors)
	if l.Reconnects > 0 {
		s += fmt.Sprintf(" (%d reconnects)", l.Reconnects)
	}
	return s
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
}

func us(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "`", "'")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
