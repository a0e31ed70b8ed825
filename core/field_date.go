package core

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

func init() { registerFieldDef(FieldDate, dateDef{}) }

// dateDef: a UTC instant kept as text in DateLayout, which sorts and
// compares chronologically; min and max bound it.
type dateDef struct{ base }

// dateLayouts are the input forms a date accepts.
var dateLayouts = []string{
	DateLayout,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02",
}

// ParseDate reads a date in any accepted form (surrounding spaces
// ignored) and returns it in DateLayout.
func ParseDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			// Dates are compared as text, so only years 0000 to 9999 in
			// UTC keep their order: "9999-12-31 23:00:00-02:00" is in the
			// year 10000 once in UTC, and sorted before 2030.
			if y := t.UTC().Year(); y < 0 || y > 9999 {
				return "", fmt.Errorf("date %q is outside the years 0000 to 9999 in UTC", s)
			}
			return FormatTime(t), nil
		}
	}
	return "", fmt.Errorf("invalid date %q", s)
}

func (dateDef) Storage(*Field) Storage { return StorageText }

func (dateDef) Coerce(f *Field, v any) (any, *FieldError) {
	s, fe := coerceText(v, false)
	if fe != nil || s == "" {
		return s, fe
	}
	d, err := ParseDate(s.(string))
	if err != nil {
		return invalidValue("Must be a valid date.")
	}
	return d, nil
}

func (dateDef) Validate(f *Field, v any) *FieldError {
	s, _ := v.(string)
	if s == "" {
		return nil
	}
	if f.MinDate != "" && s < f.MinDate {
		return fieldError("validation_min_date_constraint", "Must be no earlier than %s.", f.MinDate)
	}
	if f.MaxDate != "" && s > f.MaxDate {
		return fieldError("validation_max_date_constraint", "Must be no later than %s.", f.MaxDate)
	}
	return nil
}

func (dateDef) Prepare(f *Field, ctx PrepareContext, key string, errs ValidationErrors) {
	for _, b := range []struct {
		name string
		v    *string
	}{{"min", &f.MinDate}, {"max", &f.MaxDate}} {
		if *b.v == "" {
			continue
		}
		d, err := ParseDate(*b.v)
		if err != nil {
			errs.Add(key+"."+b.name, "validation_invalid_date", "Invalid date.")
			continue
		}
		*b.v = d
	}
}

func (dateDef) encodeOptions(f *Field, j *fieldJSON) {
	j.Min, _ = json.Marshal(f.MinDate)
	j.Max, _ = json.Marshal(f.MaxDate)
}

func (dateDef) decodeOptions(j *fieldJSON, f *Field) error {
	var err error
	if f.MinDate, err = dateBound(j.Min); err != nil {
		return fmt.Errorf("min: %w", err)
	}
	if f.MaxDate, err = dateBound(j.Max); err != nil {
		return fmt.Errorf("max: %w", err)
	}
	return nil
}
