package caddymcp

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// dashboardFile is the Grafana dashboard shipped for these metrics.
const dashboardFile = "../dashboards/caddy-mcp.json"

// grafanaPanel is what the test reads of a dashboard panel; rows nest
// their panels.
type grafanaPanel struct {
	Title   string         `json:"title"`
	Type    string         `json:"type"`
	Panels  []grafanaPanel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// exportedMetricNames are the names of every series the module's collectors
// export, read from the collectors themselves: the names they describe, a
// histogram's as its _bucket, _sum and _count series.
func exportedMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	initMetrics()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := make(map[string]bool)
	for _, c := range collectors() {
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("no fqName in %s", d)
			}
			names[m[1]] = true
		}
	}
	// Which are histograms shows in what they gather, once they have a
	// child: make one of each vector's.
	newEndpointMetrics("dashboard-test")
	metrics.toolCalls.WithLabelValues("dashboard-test", "", methodOther, outcomeOK)
	reg := prometheus.NewPedanticRegistry()
	for _, c := range collectors() {
		reg.MustRegister(c)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetType() == dto.MetricType_HISTOGRAM {
			delete(names, f.GetName())
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	return names
}

// promqlMetric finds the metric names of this module in a PromQL
// expression: identifiers starting caddy_mcp_ that are not label names
// (a label name is followed by a matcher operator).
var promqlMetric = regexp.MustCompile(`\bcaddy_mcp_[a-zA-Z0-9_:]*\b`)

// TestDashboardQueriesExportedMetrics: every panel of the Grafana dashboard
// queries something, and every caddy_mcp_ metric its PromQL names is one
// the module's collectors export — a renamed metric breaks this test, not
// the operator's dashboard.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string         `json:"title"`
		Panels []grafanaPanel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	exported := exportedMetricNames(t)
	queried := make(map[string]bool)
	var walk func(ps []grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				names := promqlMetric.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					t.Errorf("panel %q: query %q names no caddy_mcp_ metric", p.Title, tg.Expr)
				}
				for _, name := range names {
					queried[name] = true
					if !exported[name] {
						t.Errorf("panel %q queries %s, which the module does not export (it exports %v)", p.Title, name, sortedKeys(exported))
					}
				}
				if !strings.Contains(tg.Expr, `endpoint=~"$endpoint"`) {
					t.Errorf("panel %q: query %q ignores the endpoint variable", p.Title, tg.Expr)
				}
			}
		}
	}
	walk(dash.Panels)
	if len(queried) == 0 {
		t.Fatal("the dashboard queries no metric")
	}
	// Every metric the module exports has a panel (a histogram's buckets
	// stand for it).
	for name := range exported {
		base, _ := strings.CutSuffix(name, "_sum")
		base, _ = strings.CutSuffix(base, "_count")
		if !queried[name] && !queried[base+"_bucket"] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
