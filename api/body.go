package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/records"
)

// readBody reads the whole request body, reporting an over-limit body as 413.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, core.Errorf(core.KindTooLarge, "The request body is too large (limit %d bytes).", mbe.Limit)
		}
		return nil, core.Invalid("Failed to read the request body.")
	}
	return b, nil
}

// decodeData reads a record body: JSON, a urlencoded form or a multipart
// form (whose "@jsonPayload" part may carry JSON, as the SDKs send it).
func decodeData(r *http.Request) (map[string]any, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		return decodeMultipart(r)
	case "application/x-www-form-urlencoded":
		b, err := readBody(r)
		if err != nil {
			return nil, err
		}
		vals, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, core.Invalid("Malformed form body.")
		}
		return formValues(vals), nil
	}
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return decodeJSONObject(b)
}

// decodeJSONObject parses a JSON object body; an empty body is an empty object.
func decodeJSONObject(b []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		if numberOutOfRange(err) {
			if key := keyOutOfRange(b); key != "" {
				return nil, core.FieldInvalid(key, "validation_invalid_value", "Numbers must be within ±1.8e308.")
			}
		}
		return nil, jsonError(err)
	}
	if dec.More() {
		return nil, core.Invalid("The request body must hold a single JSON object.")
	}
	if m == nil {
		return nil, core.Invalid("The request body must be a JSON object.")
	}
	return m, nil
}

// numberOutOfRange reports whether err is the decoder's refusal of a
// number beyond a float64's range, which names no key.
func numberOutOfRange(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te) && strings.HasPrefix(te.Value, "number")
}

// keyOutOfRange names the key of the JSON object b whose value holds a
// number beyond a float64's range (which decoding reports without saying
// where), or "" if none does.
func keyOutOfRange(b []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	for k, v := range m {
		if !core.JSONNumbersFit(v) {
			return k
		}
	}
	return ""
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return core.Invalid("Malformed JSON body at byte %d.", se.Offset)
	case errors.As(err, &te):
		return core.Invalid("The request body must be a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return core.Invalid("Truncated JSON body.")
	}
	var ce *core.Error
	if errors.As(err, &ce) {
		return err
	}
	return core.Invalid("Malformed JSON body.")
}

func formValues(vals url.Values) map[string]any {
	m := make(map[string]any, len(vals))
	for k, v := range vals {
		if len(v) == 1 {
			m[k] = v[0]
			continue
		}
		l := make([]any, len(v))
		for i, s := range v {
			l[i] = s
		}
		m[k] = l
	}
	return m
}

func decodeMultipart(r *http.Request) (map[string]any, error) {
	form, err := parseMultipart(r)
	if err != nil {
		return nil, err
	}
	vals := url.Values(form.Value)
	var payload map[string]any
	if p := vals.Get("@jsonPayload"); p != "" {
		var err error
		if payload, err = decodeJSONObject([]byte(p)); err != nil {
			return nil, err
		}
		vals.Del("@jsonPayload")
	}
	m := formValues(vals)
	for k, v := range payload {
		m[k] = v
	}
	for k, fhs := range form.File {
		records.AddUploads(m, k, fhs)
	}
	return m, nil
}

// parseMultipart parses r's multipart form. Its temporary files stay
// until the request ends: uploads are read from them when the record (or
// the batch) is written.
func parseMultipart(r *http.Request) (*multipart.Form, error) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(mbe.Limit)
		}
		return nil, core.Invalid("Malformed multipart body.")
	}
	form := r.MultipartForm
	context.AfterFunc(r.Context(), func() { form.RemoveAll() })
	return form, nil
}

// queryMap flattens URL query values for @request.query.
func queryMap(q url.Values) map[string]string {
	m := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	return m
}

// headerMap lowercases header names and turns dashes into underscores, the
// shape @request.headers.* uses.
func headerMap(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			m[strings.ReplaceAll(strings.ToLower(k), "-", "_")] = v[0]
		}
	}
	return m
}
