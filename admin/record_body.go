package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/records"
)

// recordBody reads a submitted record form (r's parsed form) into the
// body records.Service.Create and Update read: the shapes the REST API
// gives a form's values (text, or a list of texts) and its files
// (records.AddUploads), with the field modifiers for files — new uploads
// under "field+", files to delete under "field-" — so the service
// resolves them as it does for the API. The admin's inputs add:
//
//   - a bool is a hidden "false" before the checkbox: the last value counts;
//   - a date is a datetime-local value in UTC, to the second (unchanged,
//     the stored value with its milliseconds is kept);
//   - a json field is JSON text, parsed here (an error is the field's);
//   - a geo point is two numbers, field.lon and field.lat;
//   - a multiple select or relation carries a hidden "" so that choosing
//     none clears it;
//   - a password is sent only when typed (on update, empty keeps it), with
//     passwordConfirm for an auth collection's (checked here for others).
//
// cur is the stored record on update, nil on create. A field the form
// does not carry is left out, so the service keeps it. The second result
// holds the problems found here, by key; the body must not be written
// then.
func recordBody(c *core.Collection, r *http.Request, cur *core.Record) (map[string]any, map[string]string) {
	form := r.PostForm
	body := map[string]any{}
	bad := map[string]string{}
	creating := cur == nil
	for i := range c.Fields {
		f := &c.Fields[i]
		name := f.Name
		vs, sent := form[name]
		if f.Type == core.FieldAutodate || (c.IsAuth() && name == "tokenKey") {
			continue
		}
		if name == "id" {
			if id := strings.TrimSpace(form.Get("id")); creating && id != "" {
				body["id"] = id
			}
			continue
		}
		switch f.Type {
		case core.FieldPassword:
			pw := form.Get(name)
			if pw == "" && (!creating || !sent) {
				continue
			}
			body[name] = pw
			if c.IsAuth() && name == "password" {
				body["passwordConfirm"] = form.Get("passwordConfirm") // the service checks it
			} else if form.Get(name+"Confirm") != pw {
				bad[name+"Confirm"] = "Values don't match."
			}
			continue
		case core.FieldFile:
			if del := nonEmpty(form[name+"-"]); len(del) > 0 {
				body[name+"-"] = anyList(del)
			}
			if r.MultipartForm != nil {
				var fhs []*multipart.FileHeader
				for _, fh := range r.MultipartForm.File[name+"+"] {
					if fh.Filename != "" {
						fhs = append(fhs, fh)
					}
				}
				if len(fhs) > 0 {
					records.AddUploads(body, name+"+", fhs)
				}
			}
			continue
		case core.FieldGeoPoint:
			_, lonSent := form[name+".lon"]
			_, latSent := form[name+".lat"]
			if !lonSent && !latSent {
				continue
			}
			p := map[string]any{}
			for _, part := range []string{"lon", "lat"} {
				s := strings.TrimSpace(form.Get(name + "." + part))
				n := 0.0
				if s != "" {
					var err error
					if n, err = strconv.ParseFloat(s, 64); err != nil {
						bad[name+"."+part] = "Must be a number."
					}
				}
				p[part] = n
			}
			body[name] = p
			continue
		}
		if !sent || len(vs) == 0 {
			continue
		}
		switch f.Type {
		case core.FieldBool:
			body[name] = strconv.FormatBool(formBool(vs))
		case core.FieldJSON:
			v, msg := parseJSONInput(vs[0])
			if msg != "" {
				bad[name] = msg
				continue
			}
			if v != nil {
				// The text as written: a plain string would be read by
				// the API's string rules (core.JSONFromString), so that
				// "\"12\"" typed here would become the number 12.
				v = json.RawMessage(strings.TrimSpace(vs[0]))
			}
			body[name] = v
		case core.FieldDate:
			body[name] = dateValue(vs[0], cur, name)
		case core.FieldSelect, core.FieldRelation:
			if f.IsMultiple() {
				body[name] = anyList(nonEmpty(vs))
			} else {
				body[name] = vs[len(vs)-1]
			}
		default:
			body[name] = vs[0]
		}
	}
	return body, bad
}

// anyList is a list of texts as a decoded form or JSON body holds it.
func anyList(vs []string) []any {
	out := make([]any, len(vs))
	for i, s := range vs {
		out[i] = s
	}
	return out
}

// dateValue reads a datetime-local value as UTC. The value the form
// showed for cur (to the second) keeps the stored one; what does not
// read as a datetime-local value goes to the service as typed, which
// accepts the other date forms or says what is wrong.
func dateValue(s string, cur *core.Record, name string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if cur != nil && s == dateInput(cur.String(name)) {
		return cur.String(name)
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return core.FormatTime(t)
		}
	}
	return s
}

// maxJSONInput bounds the JSON text parsed here; the field's own maxSize
// is the service's to check.
const maxJSONInput = 8 << 20

// parseJSONInput reads a JSON editor's text: empty is null; numbers keep
// their digits. msg says what is wrong with text that is not one JSON
// value, with where.
func parseJSONInput(text string) (v any, msg string) {
	if strings.TrimSpace(text) == "" {
		return nil, ""
	}
	if len(text) > maxJSONInput {
		return nil, fmt.Sprintf("The JSON is longer than %d bytes.", maxJSONInput)
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, jsonProblem(text, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "Invalid JSON: there is more after the first value" + position(text, dec.InputOffset()) + "."
	}
	return v, ""
}

// jsonProblem says what is wrong with text as JSON, and where.
func jsonProblem(text string, err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return "Invalid JSON" + position(text, se.Offset) + ": " + strings.TrimPrefix(se.Error(), "json: ") + "."
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "Invalid JSON: it ends before the value does."
	}
	return "Invalid JSON."
}

// position is " at line L, column C" of byte offset off in text.
func position(text string, off int64) string {
	if off < 0 || off > int64(len(text)) {
		return ""
	}
	before := []byte(text[:off])
	line := bytes.Count(before, []byte("\n")) + 1
	col := max(len(before)-bytes.LastIndexByte(before, '\n')-1, 1)
	return fmt.Sprintf(" at line %d, column %d", line, col)
}
