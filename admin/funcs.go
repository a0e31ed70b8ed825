package admin

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"time"
)

// funcs are the template functions every page may use. A page file may
// add its own in an init function.
var funcs = template.FuncMap{
	"statusText": http.StatusText,
	"add":        func(a, b int) int { return a + b },
	"sub":        func(a, b int) int { return a - b },
	// json writes v as indented JSON (for <pre> and <textarea>).
	"json": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	},
	// ago is a time as "3m ago" (with the exact time in a title).
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return humanDuration(time.Since(t)) + " ago"
	},
	"until": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return "in " + humanDuration(time.Until(t))
	},
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"bytes": humanBytes,
	// list makes a slice of its arguments, for ranging over constants.
	"list": func(v ...string) []string { return v },
}

// humanDuration is d rounded to its largest unit: 45s, 12m, 3h, 2d.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// humanBytes is n in B, KB, MB, GB (powers of 1024).
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "KMGTPE"[exp])
}
