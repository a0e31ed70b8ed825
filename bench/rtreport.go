package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// rtResult is what the realtime benchmark measured at one subscriber
// count.
type rtResult struct {
	Subscribers   int           // asked for
	Connected     int           // subscribed
	ConnectFailed int           // could not connect or subscribe
	ConnectErr    string        // the first such failure
	ConnectTime   time.Duration // until every subscriber had subscribed or failed

	Public, Private int       // records the writer created, by kind
	WriteFailed     int       // creates that failed
	WriteErr        string    // the first such failure
	Creates         histogram // the creates' latency, as the writer saw it

	Expected         int64     // Public × Connected
	Delivered        int64     // public events read, each once per subscriber
	Lost             int64     // Expected - Delivered
	PrivateDelivered int64     // events of private records: the list rule was not applied
	Duplicates       int64     // a public event read again by the same subscriber
	Unknown          int64     // events of records the writer did not create (or without an id)
	Latency          histogram // from the start of a create to a subscriber reading its event

	EndedEarly int    // streams the server ended before the benchmark closed them
	EndedErr   string // the first one's error

	MemSubscribed *memInfo // the server's memory with every subscriber connected, before the creates
	MemEnd        *memInfo // and after the grace period (its peak is the process's so far)
}

// problems lists what makes a result a failure: anything but a clean
// delivery of every public event to every subscriber.
func (r *rtResult) problems() []string {
	var out []string
	if r.ConnectFailed > 0 {
		out = append(out, fmt.Sprintf("%d of %d subscribers failed to connect; first: %s", r.ConnectFailed, r.Subscribers, r.ConnectErr))
	}
	if r.Connected == 0 && r.ConnectFailed == 0 {
		out = append(out, "no subscriber connected")
	}
	if r.WriteFailed > 0 {
		out = append(out, fmt.Sprintf("%d creates failed; first: %s", r.WriteFailed, r.WriteErr))
	}
	if r.Lost > 0 {
		out = append(out, fmt.Sprintf("%d of %d deliveries lost", r.Lost, r.Expected))
	}
	if r.PrivateDelivered > 0 {
		out = append(out, fmt.Sprintf("%d deliveries of private records, which the list rule hides from guests", r.PrivateDelivered))
	}
	if r.Duplicates > 0 {
		out = append(out, fmt.Sprintf("%d duplicate deliveries", r.Duplicates))
	}
	if r.Unknown > 0 {
		out = append(out, fmt.Sprintf("%d deliveries of records the writer did not create, or without an id", r.Unknown))
	}
	if r.EndedEarly > 0 {
		out = append(out, fmt.Sprintf("%d streams ended before the benchmark closed them; first: %s", r.EndedEarly, r.EndedErr))
	}
	return out
}

// fmtMB prints a resident size in megabytes (10^6 bytes, the unit of the
// targets), or "-" when it was not read.
func fmtMB(m *memInfo) string {
	if m == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f MB", float64(m.RSS)/1e6)
}

// fmtPeakMB prints the peak resident size in megabytes, or "-".
func fmtPeakMB(m *memInfo) string {
	if m == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f MB", float64(m.Peak)/1e6)
}

const rtTableFormat = "%11s %9s %7s %9s %9s %6s %7s %9s %9s %9s %14s %10s\n"

// writeRealtimeTable prints one row per subscriber count. "events" is
// public/all creates; "RSS peak" is the server's VmHWM after the grace
// period: the highest since the process started, so earlier counts
// included.
func writeRealtimeTable(w io.Writer, results []*rtResult) {
	fmt.Fprintf(w, rtTableFormat, "subscribers", "connected", "events", "expected", "delivered", "lost", "private",
		"p50", "p99", "max", "RSS subscribed", "RSS peak")
	fmt.Fprintln(w, strings.Repeat("-", 11+9+7+9+9+6+7+9+9+9+14+10+11))
	for _, r := range results {
		fmt.Fprintf(w, rtTableFormat,
			fmt.Sprint(r.Subscribers),
			fmt.Sprint(r.Connected),
			fmt.Sprintf("%d/%d", r.Public, r.Public+r.Private),
			fmt.Sprint(r.Expected),
			fmt.Sprint(r.Delivered),
			fmt.Sprint(r.Lost),
			fmt.Sprint(r.PrivateDelivered),
			fmtQuantile(&r.Latency, 0.50),
			fmtQuantile(&r.Latency, 0.99),
			fmtQuantile(&r.Latency, 1),
			fmtMB(r.MemSubscribed),
			fmtPeakMB(r.MemEnd))
	}
}

// writeRealtimeNotes prints the targets and, per subscriber count, what
// went wrong.
func writeRealtimeNotes(w io.Writer, results []*rtResult) {
	fmt.Fprintln(w, "\ntarget at 10000 subscribers: p99 <= 100ms, 0 lost, RSS <= 300 MB (PocketBase v0.39: p99 507ms, max 732ms, 825 MB)")
	hint := false
	for _, r := range results {
		for _, p := range r.problems() {
			fmt.Fprintf(w, "  %d subscribers: %s\n", r.Subscribers, p)
		}
		hint = hint || r.ConnectFailed > 0
	}
	if hint {
		fmt.Fprintln(w, "  hint: "+rtConnHint)
	}
}

// checkRealtime fails if any subscriber count had a problem.
func checkRealtime(results []*rtResult) error {
	var bad []string
	hint := false
	for _, r := range results {
		for _, p := range r.problems() {
			bad = append(bad, fmt.Sprintf("%d subscribers: %s", r.Subscribers, p))
		}
		hint = hint || r.ConnectFailed > 0
	}
	if len(results) == 0 {
		bad = append(bad, "no subscriber count was measured")
	}
	if len(bad) == 0 {
		return nil
	}
	if hint {
		bad = append(bad, rtConnHint)
	}
	return fmt.Errorf("realtime:\n  %s", strings.Join(bad, "\n  "))
}

// jsonRealtimeReport is the -json output of the realtime benchmark.
type jsonRealtimeReport struct {
	Mode       string         `json:"mode"` // "realtime"
	Label      string         `json:"label,omitempty"`
	URL        string         `json:"url"`
	Time       time.Time      `json:"time"`
	GoVersion  string         `json:"go_version"`
	NumCPU     int            `json:"num_cpu"`
	Collection string         `json:"collection"`
	Topic      string         `json:"topic"`
	ListRule   string         `json:"list_rule"`
	Events     int            `json:"events"` // creates per subscriber count, public and private
	Rate       float64        `json:"events_per_second"`
	Grace      string         `json:"grace"`
	Results    []jsonRealtime `json:"results"`
}

// jsonRealtime is one subscriber count. Latencies run from the start of a
// create request to a subscriber reading its event; create_* is the
// writer's own request latency.
type jsonRealtime struct {
	Subscribers      int      `json:"subscribers"`
	Connected        int      `json:"connected"`
	ConnectFailed    int      `json:"connect_failed"`
	ConnectError     string   `json:"connect_error,omitempty"`
	ConnectSeconds   float64  `json:"connect_seconds"`
	PublicEvents     int      `json:"public_events"`
	PrivateEvents    int      `json:"private_events"`
	WriteFailed      int      `json:"write_failed"`
	WriteError       string   `json:"write_error,omitempty"`
	CreateP50Micros  float64  `json:"create_p50_us"`
	CreateMaxMicros  float64  `json:"create_max_us"`
	Expected         int64    `json:"deliveries_expected"`
	Delivered        int64    `json:"delivered"`
	Lost             int64    `json:"lost"`
	PrivateDelivered int64    `json:"private_delivered"`
	Duplicates       int64    `json:"duplicates"`
	Unknown          int64    `json:"unknown"`
	EndedEarly       int      `json:"streams_ended_early"`
	EndedError       string   `json:"ended_error,omitempty"`
	MeanMicros       float64  `json:"mean_us"`
	P50Micros        float64  `json:"p50_us"`
	P90Micros        float64  `json:"p90_us"`
	P99Micros        float64  `json:"p99_us"`
	P999Micros       float64  `json:"p999_us"`
	MaxMicros        float64  `json:"max_us"`
	MemSubscribed    *memInfo `json:"memory_subscribed,omitempty"`
	MemEnd           *memInfo `json:"memory_after_events,omitempty"`
}

func jsonRealtimeEntries(results []*rtResult) []jsonRealtime {
	out := make([]jsonRealtime, 0, len(results))
	for _, r := range results {
		h := &r.Latency
		out = append(out, jsonRealtime{
			Subscribers:      r.Subscribers,
			Connected:        r.Connected,
			ConnectFailed:    r.ConnectFailed,
			ConnectError:     r.ConnectErr,
			ConnectSeconds:   r.ConnectTime.Seconds(),
			PublicEvents:     r.Public,
			PrivateEvents:    r.Private,
			WriteFailed:      r.WriteFailed,
			WriteError:       r.WriteErr,
			CreateP50Micros:  micros(r.Creates.quantile(0.5)),
			CreateMaxMicros:  micros(r.Creates.quantile(1)),
			Expected:         r.Expected,
			Delivered:        r.Delivered,
			Lost:             r.Lost,
			PrivateDelivered: r.PrivateDelivered,
			Duplicates:       r.Duplicates,
			Unknown:          r.Unknown,
			EndedEarly:       r.EndedEarly,
			EndedError:       r.EndedErr,
			MeanMicros:       micros(h.mean()),
			P50Micros:        micros(h.quantile(0.50)),
			P90Micros:        micros(h.quantile(0.90)),
			P99Micros:        micros(h.quantile(0.99)),
			P999Micros:       micros(h.quantile(0.999)),
			MaxMicros:        micros(h.quantile(1)),
			MemSubscribed:    r.MemSubscribed,
			MemEnd:           r.MemEnd,
		})
	}
	return out
}
