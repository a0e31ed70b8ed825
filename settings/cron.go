package settings

import (
	"fmt"
	"strconv"
	"strings"
)

// cronFields are the five fields of a cron expression with their ranges.
var cronFields = [5]struct {
	name     string
	min, max int
}{
	{"minute", 0, 59},
	{"hour", 0, 23},
	{"day of month", 1, 31},
	{"month", 1, 12},
	{"day of week", 0, 6},
}

// cronMacros are the shorthands accepted in place of five fields.
var cronMacros = map[string]bool{
	"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true,
	"@daily": true, "@midnight": true, "@hourly": true,
}

// cronProblem describes what is wrong with a cron expression, or returns
// "" when it is valid: five space-separated fields (minute, hour, day of
// month, month, day of week), each "*" or a comma-separated list of
// numbers and ranges ("1-5"), any of them with a step ("*/15", "0-30/5"),
// or one of the macros @yearly, @annually, @monthly, @weekly, @daily,
// @midnight and @hourly.
func cronProblem(expr string) string {
	if cronMacros[strings.TrimSpace(expr)] {
		return ""
	}
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return "Must have five fields (minute hour day-of-month month day-of-week), such as \"0 3 * * *\", or be a macro such as @daily."
	}
	for i, f := range fields {
		spec := cronFields[i]
		for _, item := range strings.Split(f, ",") {
			if p := cronItemProblem(item, spec.min, spec.max); p != "" {
				return fmt.Sprintf("The %s field %q: %s", spec.name, f, p)
			}
		}
	}
	return ""
}

// cronItemProblem checks one item of a field's list.
func cronItemProblem(item string, lo, hi int) string {
	rng, step, hasStep := strings.Cut(item, "/")
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 || n > hi-lo+1 {
			return fmt.Sprintf("the step %q must be a number from 1 to %d.", step, hi-lo+1)
		}
	}
	if rng == "*" {
		return ""
	}
	from, to, isRange := strings.Cut(rng, "-")
	a, err := cronNumber(from, lo, hi)
	if err != "" {
		return err
	}
	if !isRange {
		return ""
	}
	b, err := cronNumber(to, lo, hi)
	if err != "" {
		return err
	}
	if a > b {
		return fmt.Sprintf("the range %q runs backwards.", rng)
	}
	return ""
}

func cronNumber(s string, lo, hi int) (int, string) {
	if s == "" || len(s) > 2 {
		return 0, fmt.Sprintf("%q is not a number from %d to %d.", s, lo, hi)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi || strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		return 0, fmt.Sprintf("%q is not a number from %d to %d.", s, lo, hi)
	}
	return n, ""
}
