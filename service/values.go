package service

import (
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/core"
)

// Default size limits for fields that set none, as PocketBase has them.
const (
	defaultTextMax     = 5000
	defaultEditorMax   = 5 << 20
	defaultJSONMaxSize = 1 << 20
	maxMultiple        = 1000 // at most this many items in a list field
)

// dateLayouts are the input forms a date field accepts.
var dateLayouts = []string{
	core.DateLayout,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02",
}

// parseDate reads a date in any accepted form and returns it in core.DateLayout.
func parseDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return core.FormatTime(t), nil
		}
	}
	return "", fmt.Errorf("invalid date %q", s)
}

// coerce converts one submitted value to the field's canonical Go type.
// JSON bodies bring JSON types; form bodies bring strings, which are
// converted as PocketBase does (numbers, "true"/"false", comma-free lists).
func coerce(f *core.Field, v any) (any, *core.FieldError) {
	bad := func(msg string) (any, *core.FieldError) {
		return nil, &core.FieldError{Code: "validation_invalid_value", Message: msg}
	}
	switch f.Type {
	case core.FieldNumber:
		switch n := v.(type) {
		case nil:
			return float64(0), nil
		case float64:
			return n, nil
		case json.Number:
			x, err := n.Float64()
			if err != nil {
				return bad("Must be a number.")
			}
			return x, nil
		case string:
			if strings.TrimSpace(n) == "" {
				return float64(0), nil
			}
			x, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if err != nil {
				return bad("Must be a number.")
			}
			return x, nil
		}
		return bad("Must be a number.")
	case core.FieldBool:
		switch b := v.(type) {
		case nil:
			return false, nil
		case bool:
			return b, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(b)) {
			case "true", "1", "on":
				return true, nil
			case "false", "0", "", "off":
				return false, nil
			}
		case float64:
			if b == 0 || b == 1 {
				return b == 1, nil
			}
		}
		return bad("Must be a boolean.")
	case core.FieldJSON:
		b, err := json.Marshal(v)
		if err != nil {
			return bad("Must be valid JSON.")
		}
		if string(b) == "null" {
			return json.RawMessage(nil), nil
		}
		return json.RawMessage(b), nil
	}
	if f.IsMultiple() {
		var out []string
		switch l := v.(type) {
		case nil:
			return []string{}, nil
		case string:
			if l != "" {
				out = []string{l}
			}
		case []any:
			for _, x := range l {
				s, ok := x.(string)
				if !ok {
					return bad("Must be a list of strings.")
				}
				if s != "" {
					out = append(out, s)
				}
			}
		case []string:
			for _, s := range l {
				if s != "" {
					out = append(out, s)
				}
			}
		default:
			return bad("Must be a list of strings.")
		}
		if out == nil {
			out = []string{}
		}
		return dedupe(out), nil
	}
	switch s := v.(type) {
	case nil:
		return "", nil
	case string:
		if f.Type == core.FieldDate && s != "" {
			d, err := parseDate(s)
			if err != nil {
				return bad("Must be a valid date.")
			}
			return d, nil
		}
		return s, nil
	case []any:
		// A single select or relation given as a one-item list keeps its last item.
		if f.Type == core.FieldSelect || f.Type == core.FieldRelation || f.Type == core.FieldFile {
			if len(s) == 0 {
				return "", nil
			}
			if str, ok := s[len(s)-1].(string); ok {
				return str, nil
			}
		}
	case float64:
		if f.Type == core.FieldText || f.Type == core.FieldEditor {
			return strconv.FormatFloat(s, 'f', -1, 64), nil
		}
	case bool:
		if f.Type == core.FieldText || f.Type == core.FieldEditor {
			return strconv.FormatBool(s), nil
		}
	}
	return bad("Must be a string.")
}

func dedupe(l []string) []string {
	seen := make(map[string]bool, len(l))
	out := l[:0]
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

var (
	patternCacheMu sync.Mutex
	patternCache   = map[string]*regexp.Regexp{}
)

func cachedRegexp(p string) (*regexp.Regexp, error) {
	patternCacheMu.Lock()
	defer patternCacheMu.Unlock()
	if re, ok := patternCache[p]; ok {
		return re, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	if len(patternCache) > 1000 {
		patternCache = map[string]*regexp.Regexp{}
	}
	patternCache[p] = re
	return re, nil
}

// checkValue validates a canonical value against its field's options. It
// does not check relations' targets exist (that needs the database).
func checkValue(f *core.Field, v any) *core.FieldError {
	fe := func(code, format string, args ...any) *core.FieldError {
		return &core.FieldError{Code: code, Message: fmt.Sprintf(format, args...)}
	}
	if f.Required && isZero(v) {
		return fe("validation_required", "Cannot be blank.")
	}
	switch f.Type {
	case core.FieldText, core.FieldPassword:
		s := v.(string)
		n := utf8.RuneCountInString(s)
		if !utf8.ValidString(s) {
			return fe("validation_invalid_value", "Must be valid UTF-8 text.")
		}
		max := defaultTextMax
		if f.Max != nil {
			max = int(*f.Max)
		}
		if s == "" {
			return nil
		}
		if f.Min != nil && n < int(*f.Min) {
			return fe("validation_min_text_constraint", "Must be at least %d character(s).", int(*f.Min))
		}
		if f.Type == core.FieldText && n > max {
			return fe("validation_max_text_constraint", "Must be less than %d character(s).", max)
		}
		if f.Type == core.FieldPassword && f.Max != nil && n > max {
			return fe("validation_max_text_constraint", "Must be less than %d character(s).", max)
		}
		if f.Pattern != "" {
			re, err := cachedRegexp(f.Pattern)
			if err == nil && !re.MatchString(s) {
				return fe("validation_invalid_format", "Invalid value format.")
			}
		}
	case core.FieldEditor:
		s := v.(string)
		max := int64(defaultEditorMax)
		if f.MaxSize > 0 {
			max = f.MaxSize
		}
		if int64(len(s)) > max {
			return fe("validation_max_size_constraint", "Must be less than %d bytes.", max)
		}
		if !utf8.ValidString(s) {
			return fe("validation_invalid_value", "Must be valid UTF-8 text.")
		}
	case core.FieldNumber:
		n := v.(float64)
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return fe("validation_not_a_number", "Must be a finite number.")
		}
		if f.OnlyInt && n != math.Trunc(n) {
			return fe("validation_only_int_constraint", "Decimal numbers are not allowed.")
		}
		if f.Min != nil && n < *f.Min {
			return fe("validation_min_number_constraint", "Must be larger than %v.", *f.Min)
		}
		if f.Max != nil && n > *f.Max {
			return fe("validation_max_number_constraint", "Must be less than %v.", *f.Max)
		}
	case core.FieldEmail:
		s := v.(string)
		if s == "" {
			return nil
		}
		a, err := mail.ParseAddress(s)
		if err != nil || a.Address != s || a.Name != "" {
			return fe("validation_is_email", "Must be a valid email address.")
		}
		if msg := checkDomain(s[strings.LastIndexByte(s, '@')+1:], f); msg != "" {
			return fe("validation_email_domain", "%s", msg)
		}
	case core.FieldURL:
		s := v.(string)
		if s == "" {
			return nil
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > 2048 {
			return fe("validation_is_url", "Must be a valid url.")
		}
		if msg := checkDomain(u.Hostname(), f); msg != "" {
			return fe("validation_url_domain", "%s", msg)
		}
	case core.FieldDate:
		s := v.(string)
		if s == "" {
			return nil
		}
		if f.MinDate != "" && s < f.MinDate {
			return fe("validation_min_date_constraint", "Must be no earlier than %s.", f.MinDate)
		}
		if f.MaxDate != "" && s > f.MaxDate {
			return fe("validation_max_date_constraint", "Must be no later than %s.", f.MaxDate)
		}
	case core.FieldSelect:
		for _, s := range core.StringsOf(v) {
			if !contains(f.Values, s) {
				return fe("validation_invalid_value", "Value must be one of: %s.", strings.Join(f.Values, ", "))
			}
		}
		if l, ok := v.([]string); ok && len(l) > f.MaxSelect {
			return fe("validation_too_many_values", "Select no more than %d.", f.MaxSelect)
		}
	case core.FieldRelation, core.FieldFile:
		l := core.StringsOf(v)
		if f.IsMultiple() && len(l) > f.MaxSelect {
			return fe("validation_too_many_values", "Select no more than %d.", f.MaxSelect)
		}
		if len(l) > maxMultiple {
			return fe("validation_too_many_values", "Select no more than %d.", maxMultiple)
		}
		if f.Type == core.FieldRelation && len(l) > 0 && len(l) < f.MinSelect {
			return fe("validation_not_enough_values", "Select at least %d.", f.MinSelect)
		}
		for _, id := range l {
			if f.Type == core.FieldRelation && (len(id) > 255 || !core.ValidName("x"+id)) {
				return fe("validation_invalid_relation", "Invalid relation id %q.", truncate(id, 40))
			}
		}
	case core.FieldJSON:
		raw, _ := v.(json.RawMessage)
		max := int64(defaultJSONMaxSize)
		if f.MaxSize > 0 {
			max = f.MaxSize
		}
		if int64(len(raw)) > max {
			return fe("validation_json_size_limit", "The maximum allowed JSON size is %d bytes.", max)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func checkDomain(host string, f *core.Field) string {
	host = strings.ToLower(host)
	if len(f.OnlyDomains) > 0 && !contains(lowerAll(f.OnlyDomains), host) {
		return "Domain is not allowed."
	}
	if contains(lowerAll(f.ExceptDomains), host) {
		return "Domain is not allowed."
	}
	return ""
}

func lowerAll(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = strings.ToLower(s)
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case float64:
		return x == 0
	case bool:
		return !x
	case []string:
		return len(x) == 0
	case json.RawMessage:
		s := strings.TrimSpace(string(x))
		return s == "" || s == "null" || s == `""` || s == "[]" || s == "{}"
	}
	return false
}
