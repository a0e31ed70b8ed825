package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// Scenario keys, in the order they run and print.
const (
	scCeiling   = "ceiling"
	scGet       = "get"
	scList      = "list"
	scListNoTot = "list-skiptotal"
	scCreate    = "create"
)

var scenarioTitles = map[string]string{
	scCeiling:   "ceiling (bare net/http)",
	scGet:       "get one record",
	scList:      "list 20 + totals",
	scListNoTot: "list 20, skipTotal",
	scCreate:    "create record",
}

// row is one scenario measured at one connection count.
type row struct {
	Scenario string
	Conns    int
	Res      *loadResult
}

// ceilingRPS returns the ceiling's requests/s at conns, or 0 if it was
// not measured.
func ceilingRPS(rows []row, conns int) float64 {
	for _, r := range rows {
		if r.Scenario == scCeiling && r.Conns == conns {
			return r.Res.rps()
		}
	}
	return 0
}

// ratio is r's throughput as a fraction of the ceiling at the same
// connection count, or NaN without one.
func ratio(rows []row, r row) float64 {
	c := ceilingRPS(rows, r.Conns)
	if c == 0 {
		return math.NaN()
	}
	return r.Res.rps() / c
}

// fmtDur prints a latency with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3gs", d.Seconds())
}

func fmtQuantile(h *histogram, q float64) string {
	if h.total == 0 {
		return "-"
	}
	return fmtDur(h.quantile(q))
}

func fmtErrors(r *loadResult) string {
	if r.errors() == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%.2f%%)", r.errors(), 100*r.errorRate())
}

func fmtRatio(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return fmt.Sprintf("%.3f", x)
}

const tableFormat = "%-24s %5s %10s %9s %9s %16s %11s\n"

// writeTable prints the results, one line per scenario and connection count.
func writeTable(w io.Writer, rows []row) {
	fmt.Fprintf(w, tableFormat, "scenario", "conns", "req/s", "p50", "p99", "errors", "vs ceiling")
	fmt.Fprintln(w, strings.Repeat("-", 24+5+10+9+9+16+11+6))
	for _, r := range rows {
		title := scenarioTitles[r.Scenario]
		if title == "" {
			title = r.Scenario
		}
		fmt.Fprintf(w, tableFormat,
			title,
			fmt.Sprint(r.Conns),
			fmt.Sprintf("%.0f", r.Res.rps()),
			fmtQuantile(&r.Res.Hist, 0.50),
			fmtQuantile(&r.Res.Hist, 0.99),
			fmtErrors(r.Res),
			fmtRatio(ratio(rows, r)))
	}
}

// checkErrors fails if any row's error rate is above maxRate, naming each
// such row and its first error.
func checkErrors(rows []row, maxRate float64) error {
	var bad []string
	for _, r := range rows {
		if r.Res.total() == 0 {
			bad = append(bad, fmt.Sprintf("%s @ %d conns: no request completed: %s", r.Scenario, r.Conns, r.Res.FirstError))
			continue
		}
		if rate := r.Res.errorRate(); rate > maxRate {
			bad = append(bad, fmt.Sprintf("%s @ %d conns: %.2f%% errors (%d of %d); first: %s",
				r.Scenario, r.Conns, 100*rate, r.Res.errors(), r.Res.total(), r.Res.FirstError))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("error rate above %.0f%%:\n  %s", 100*maxRate, strings.Join(bad, "\n  "))
}

// jsonReport is the -json output.
type jsonReport struct {
	Label      string      `json:"label,omitempty"`
	URL        string      `json:"url"`
	Time       time.Time   `json:"time"`
	GoVersion  string      `json:"go_version"`
	NumCPU     int         `json:"num_cpu"`
	Records    int         `json:"records"`
	Duration   string      `json:"duration"`
	Warmup     string      `json:"warmup"`
	ListPage   string      `json:"list_page"`
	AuthLoad   bool        `json:"auth_load"`
	Seed       *jsonSeed   `json:"seed,omitempty"`
	MemSeeded  *memInfo    `json:"memory_after_seed,omitempty"`
	MemEnd     *memInfo    `json:"memory_after_load,omitempty"`
	RecordSize int         `json:"record_response_bytes"`
	Results    []jsonEntry `json:"results"`
}

type jsonSeed struct {
	Reused     bool    `json:"reused"`
	Records    int     `json:"records"`
	Conns      int     `json:"conns"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"records_per_second"`
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
	MaxMicros  float64 `json:"max_us"`
	MeanMicros float64 `json:"mean_us"`
}

type jsonEntry struct {
	Scenario   string   `json:"scenario"`
	Conns      int      `json:"conns"`
	OK         int64    `json:"ok"`
	StatusErr  int64    `json:"status_errors"`
	TransErr   int64    `json:"transport_errors"`
	ErrorRate  float64  `json:"error_rate"`
	Seconds    float64  `json:"seconds"`
	RPS        float64  `json:"requests_per_second"`
	MeanMicros float64  `json:"mean_us"`
	P50Micros  float64  `json:"p50_us"`
	P90Micros  float64  `json:"p90_us"`
	P99Micros  float64  `json:"p99_us"`
	P999Micros float64  `json:"p999_us"`
	MaxMicros  float64  `json:"max_us"`
	Ratio      *float64 `json:"ratio_to_ceiling"`
	FirstError string   `json:"first_error,omitempty"`
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func jsonEntries(rows []row) []jsonEntry {
	out := make([]jsonEntry, 0, len(rows))
	for _, r := range rows {
		h := &r.Res.Hist
		e := jsonEntry{
			Scenario:   r.Scenario,
			Conns:      r.Conns,
			OK:         r.Res.OK,
			StatusErr:  r.Res.Status,
			TransErr:   r.Res.Transport,
			ErrorRate:  r.Res.errorRate(),
			Seconds:    r.Res.Elapsed.Seconds(),
			RPS:        r.Res.rps(),
			MeanMicros: micros(h.mean()),
			P50Micros:  micros(h.quantile(0.50)),
			P90Micros:  micros(h.quantile(0.90)),
			P99Micros:  micros(h.quantile(0.99)),
			P999Micros: micros(h.quantile(0.999)),
			MaxMicros:  micros(h.quantile(1)),
			FirstError: r.Res.FirstError,
		}
		if x := ratio(rows, r); !math.IsNaN(x) {
			e.Ratio = &x
		}
		out = append(out, e)
	}
	return out
}

func writeJSON(path string, rep *jsonReport) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
