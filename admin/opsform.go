package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
)

// What the settings, superuser, API key, mailbox, job, cron and webhook
// pages share: reading a posted form into typed values (a value that does
// not parse is a field error, as the service's own are), showing the
// service's field errors beside their inputs again, and a few template
// functions. The names start with "ops" so they cannot meet another
// page's helpers in this package.

// opsForm reads a posted form, collecting the errors of values that do not
// parse under their field names.
type opsForm struct {
	v    url.Values
	errs core.ValidationErrors
}

func newOpsForm(r *http.Request) *opsForm {
	return &opsForm{v: r.PostForm, errs: core.ValidationErrors{}}
}

// text is a field's value without surrounding spaces.
func (f *opsForm) text(name string) string { return strings.TrimSpace(f.v.Get(name)) }

// raw is a field's value as sent (passwords and secrets).
func (f *opsForm) raw(name string) string { return f.v.Get(name) }

// on is a checkbox: sent (as "on", its default value) when checked.
func (f *opsForm) on(name string) bool { return opsOn(f.v.Get(name)) }

func opsOn(v string) bool { return v == "on" || v == "true" || v == "1" }

// int is a whole number; empty is 0.
func (f *opsForm) int(name string) int64 {
	s := f.text(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f.errs.Add(name, "validation_invalid_number", "Must be a whole number.")
	}
	return n
}

// lines is a list typed one entry a line (commas also separate), never
// nil, so that it encodes as [] and empties the list.
func (f *opsForm) lines(name string) []string {
	out := []string{}
	for _, line := range strings.FieldsFunc(f.v.Get(name), func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// count is the number of rows a form says it has (a hidden input), at
// most max.
func (f *opsForm) count(name string, max int) int {
	n, err := strconv.Atoi(f.v.Get(name))
	if err != nil || n < 0 {
		return 0
	}
	return min(n, max)
}

// opsInvalid splits a KindInvalid error into its field messages and its
// message (the latter only when no field is named); ok is false for any
// other error, which the caller returns.
func opsInvalid(err error) (fields map[string]string, msg string, ok bool) {
	e := core.AsError(err)
	if e == nil || e.Kind != core.KindInvalid {
		return nil, "", false
	}
	fields = map[string]string{}
	for k, v := range e.Fields {
		fields[k] = v.Message
	}
	if len(fields) == 0 {
		msg = e.Message
	}
	return fields, msg, true
}

// opsFieldErrors turns collected parse errors into field messages.
func opsFieldErrors(errs core.ValidationErrors) map[string]string {
	out := map[string]string{}
	for k, v := range errs {
		out[k] = v.Message
	}
	return out
}

var opsIndexed = regexp.MustCompile(`^(\d+)(.*)$`)

// opsRemap renames the errors of a list the service saw ("prefix3.name")
// to the form rows they came from ("prefix5.name" when rows[3] is 5): the
// form skips blank and removed rows, so the indexes differ.
func opsRemap(errs map[string]string, prefix string, rows []int) map[string]string {
	out := make(map[string]string, len(errs))
	for k, v := range errs {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			if m := opsIndexed.FindStringSubmatch(rest); m != nil {
				if i, err := strconv.Atoi(m[1]); err == nil && i < len(rows) {
					k = prefix + strconv.Itoa(rows[i]) + m[2]
				}
			}
		}
		out[k] = v
	}
	return out
}

// opsErrs looks up the message of a field; listed also finds the messages
// of its entries ("superuserIPs.2").
type opsErrs map[string]string

// Err is the message of the field name, "" if none.
func (e opsErrs) Err(name string) string { return e[name] }

// ErrList is the message of the list name and of its entries, joined.
func (e opsErrs) ErrList(name string) string {
	var out []string
	for k, m := range e {
		if rest, ok := strings.CutPrefix(k, name+"."); ok && opsIndexed.MatchString(rest) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	if m := e[name]; m != "" {
		out = append([]string{m}, out...)
	}
	return strings.Join(out, " ")
}

// Rest is the messages of the fields not among names (nor their entries,
// "name.…"), joined: errors the service names by a key the form has no
// input for, shown with the form's message rather than lost.
func (e opsErrs) Rest(names ...string) string {
	var out []string
	for k, m := range e {
		placed := false
		for _, n := range names {
			if k == n || strings.HasPrefix(k, n+".") {
				placed = true
				break
			}
		}
		if !placed {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// Under is the messages of the fields under prefix but for prefix+name
// for names (shown beside their inputs), joined.
func (e opsErrs) Under(prefix string, names ...string) string {
	var out []string
	for k, m := range e {
		rest, ok := strings.CutPrefix(k, prefix)
		if ok && !slices.Contains(names, rest) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func init() {
	// fid is an element id for a field name: "meta.appName" → "meta-appName",
	// so CSS selectors need no escapes.
	funcs["fid"] = func(name string) string { return strings.NewReplacer(".", "-", " ", "-").Replace(name) }
	// opsArgs makes a map of key, value pairs: arguments for a template.
	funcs["opsArgs"] = func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("opsArgs: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("opsArgs: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	}
	// opsWhen is a time (or a pointer to one) in UTC, "—" for none.
	funcs["opsWhen"] = func(v any) string {
		t, ok := opsTime(v)
		if !ok {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	}
	// opsRel is a time (or a pointer to one) relative to now: "3m ago",
	// "in 5m", "" for none.
	funcs["opsRel"] = func(v any) string {
		t, ok := opsTime(v)
		if !ok {
			return ""
		}
		if d := time.Until(t); d > 0 {
			return "in " + humanDuration(d)
		}
		return humanDuration(time.Since(t)) + " ago"
	}
	// opsLines joins a list one entry a line, for a textarea.
	funcs["opsLines"] = func(list []string) string { return strings.Join(list, "\n") }
}

// opsTime reads a time.Time, a *time.Time or a record's date string.
func opsTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t == nil || t.IsZero() {
			return time.Time{}, false
		}
		return *t, true
	case string:
		p, err := time.Parse(core.DateLayout, t)
		return p, err == nil
	}
	return time.Time{}, false
}

// opsSeeOther answers a form with a redirect to path, flash shown there once.
func opsSeeOther(w http.ResponseWriter, r *http.Request, path, flash string) {
	if flash != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		frag := ""
		if i := strings.IndexByte(path, '#'); i >= 0 {
			path, frag = path[:i], path[i:]
		}
		path += sep + "flash=" + url.QueryEscape(flash) + frag
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}
