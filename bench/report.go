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
	scCreatePw  = "create-pwload" // create while users change their passwords
	// scCeilingProc is the ceiling's server in a process of its own, as
	// the measured server is: what any net/http server answering from
	// memory could do here (ceiling.go).
	scCeilingProc = "ceiling-proc"
)

var scenarioTitles = map[string]string{
	scCeiling:     "ceiling (bare net/http)",
	scGet:         "get one record",
	scList:        "list 20 + totals",
	scListNoTot:   "list 20, skipTotal",
	scCreate:      "create record",
	scCreatePw:    "create, password load",
	scCeilingProc: "ceiling, own process",
}

// row is one scenario measured at one connection count.
type row struct {
	Scenario   string
	Conns      int
	Res        *loadResult
	Background *background // what ran alongside, if anything
}

// background is load that ran alongside a measured scenario over the same
// window, measured separately: the password changes of create-pwload.
type background struct {
	Name    string // e.g. password-change
	Clients int    // its concurrent clients
	Res     *loadResult
}

// p99VsCreate is the p99 of a create-pwload row over the p99 of create
// alone at the same connection count (the target is at most 2), or NaN
// if either is missing.
func p99VsCreate(rows []row, r row) float64 {
	alone := findRow(rows, scCreate, r.Conns)
	if r.Scenario != scCreatePw || r.Res.Hist.total == 0 || alone == nil || alone.Res.Hist.total == 0 {
		return math.NaN()
	}
	return float64(r.Res.Hist.quantile(0.99)) / float64(alone.Res.Hist.quantile(0.99))
}

// findRow returns the row of scenario at conns, or nil.
func findRow(rows []row, scenario string, conns int) *row {
	for i := range rows {
		if rows[i].Scenario == scenario && rows[i].Conns == conns {
			return &rows[i]
		}
	}
	return nil
}

// ceilingRPS returns the ceiling's requests/s at conns, or 0 if it was
// not measured.
func ceilingRPS(rows []row, conns int) float64 {
	if r := findRow(rows, scCeiling, conns); r != nil {
		return r.Res.rps()
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

// writeTable prints the results, one line per scenario and connection
// count, and under a row with background load one more line for that load
// (its conns column is its number of clients).
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
		if bg := r.Background; bg != nil {
			fmt.Fprintf(w, tableFormat,
				"  + "+bg.Name,
				fmt.Sprint(bg.Clients),
				fmt.Sprintf("%.0f", bg.Res.rps()),
				fmtQuantile(&bg.Res.Hist, 0.50),
				fmtQuantile(&bg.Res.Hist, 0.99),
				fmtErrors(bg.Res),
				"-")
		}
	}
}

// writeP99Comparison prints, for each create-pwload row that has a create
// row at the same connection count, how its p99 compares: the measure of
// whether writes wait behind password hashing.
func writeP99Comparison(w io.Writer, rows []row) {
	header := false
	for _, r := range rows {
		x := p99VsCreate(rows, r)
		if math.IsNaN(x) {
			continue
		}
		if !header {
			fmt.Fprintln(w, "\ncreate p99 with password changes in the background against without (target <= 2x):")
			header = true
		}
		alone := findRow(rows, scCreate, r.Conns)
		changes := ""
		if bg := r.Background; bg != nil {
			changes = fmt.Sprintf(", %d password changes by %d clients (p99 %s)", bg.Res.OK, bg.Clients, fmtQuantile(&bg.Res.Hist, 0.99))
		}
		fmt.Fprintf(w, "  %4d conns: %s against %s = %.2fx%s\n", r.Conns, fmtQuantile(&r.Res.Hist, 0.99), fmtQuantile(&alone.Res.Hist, 0.99), x, changes)
	}
}

// checkErrors fails if any row's error rate is above maxRate, naming each
// such row and its first error.
func checkErrors(rows []row, maxRate float64) error {
	var bad []string
	check := func(name string, res *loadResult) {
		if res.total() == 0 {
			bad = append(bad, fmt.Sprintf("%s: no request completed: %s", name, res.FirstError))
			return
		}
		if rate := res.errorRate(); rate > maxRate {
			bad = append(bad, fmt.Sprintf("%s: %.2f%% errors (%d of %d); first: %s",
				name, 100*rate, res.errors(), res.total(), res.FirstError))
		}
	}
	for _, r := range rows {
		name := fmt.Sprintf("%s @ %d conns", r.Scenario, r.Conns)
		check(name, r.Res)
		if bg := r.Background; bg != nil {
			check(fmt.Sprintf("%s, %s by %d clients", name, bg.Name, bg.Clients), bg.Res)
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
	Client     string      `json:"client"`
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
	// Only for create-pwload: the password changes measured over the same
	// window (conns is their number of clients), and the p99 over the p99
	// of create alone at the same conns.
	Background  *jsonEntry `json:"background,omitempty"`
	P99VsCreate *float64   `json:"p99_vs_create,omitempty"`
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func jsonEntries(rows []row) []jsonEntry {
	out := make([]jsonEntry, 0, len(rows))
	for _, r := range rows {
		e := newJSONEntry(r.Scenario, r.Conns, r.Res)
		if x := ratio(rows, r); !math.IsNaN(x) {
			e.Ratio = &x
		}
		if bg := r.Background; bg != nil {
			b := newJSONEntry(bg.Name, bg.Clients, bg.Res)
			e.Background = &b
		}
		if x := p99VsCreate(rows, r); !math.IsNaN(x) {
			e.P99VsCreate = &x
		}
		out = append(out, e)
	}
	return out
}

func newJSONEntry(scenario string, conns int, res *loadResult) jsonEntry {
	h := &res.Hist
	return jsonEntry{
		Scenario:   scenario,
		Conns:      conns,
		OK:         res.OK,
		StatusErr:  res.Status,
		TransErr:   res.Transport,
		ErrorRate:  res.errorRate(),
		Seconds:    res.Elapsed.Seconds(),
		RPS:        res.rps(),
		MeanMicros: micros(h.mean()),
		P50Micros:  micros(h.quantile(0.50)),
		P90Micros:  micros(h.quantile(0.90)),
		P99Micros:  micros(h.quantile(0.99)),
		P999Micros: micros(h.quantile(0.999)),
		MaxMicros:  micros(h.quantile(1)),
		FirstError: res.FirstError,
	}
}

// writeJSON writes rep, a *jsonReport or a *jsonRealtimeReport, indented.
func writeJSON(path string, rep any) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
