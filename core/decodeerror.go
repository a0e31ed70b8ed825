package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// DecodeError turns an encoding/json decoding error into a KindInvalid
// error that names the JSON field and the JSON type it must have, never a
// Go type: {"fields": 5} answers "fields: must be an array." with the
// detail under data.fields. what names the decoded value in messages
// ("collection data", "settings"). Errors that are already *Error pass
// through; other errors (from custom UnmarshalJSON methods, which word
// their own) keep their text.
func DecodeError(err error, what string) error {
	var (
		ce *Error
		te *json.UnmarshalTypeError
		se *json.SyntaxError
	)
	switch {
	case errors.As(err, &ce):
		return err
	case errors.As(err, &te):
		want := "must be " + jsonTypeName(te.Type)
		if te.Field == "" {
			return Invalid("The %s %s.", what, want)
		}
		e := FieldInvalid(te.Field, "validation_invalid_type", strings.ToUpper(want[:1])+want[1:]+".")
		e.Message = fmt.Sprintf("%s: %s.", te.Field, want)
		return e
	case errors.As(err, &se):
		return Invalid("Malformed JSON at byte %d.", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return Invalid("Truncated JSON.")
	}
	return Invalid("Invalid %s: %s.", what, strings.TrimPrefix(err.Error(), "json: "))
}

// jsonTypeName names the JSON value a Go type decodes from.
func jsonTypeName(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a valid value"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a valid value"
}
