package core

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

func init() { registerFieldDef(FieldNumber, numberDef{}) }

// numberDef: a float64, optionally whole and bounded.
type numberDef struct{ base }

func (numberDef) Storage(*Field) Storage { return StorageNumber }

func (numberDef) Coerce(f *Field, v any) (any, *FieldError) {
	switch n := v.(type) {
	case nil:
		return float64(0), nil
	case float64:
		return n, nil
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case int32:
		return float64(n), nil
	case float32:
		return float64(n), nil
	case json.Number:
		if x, err := n.Float64(); err == nil {
			return x, nil
		}
	case string:
		if strings.TrimSpace(n) == "" {
			return float64(0), nil
		}
		if x, err := strconv.ParseFloat(strings.TrimSpace(n), 64); err == nil {
			return x, nil
		}
	}
	return invalidValue("Must be a number.")
}

func (numberDef) Validate(f *Field, v any) *FieldError {
	n, _ := v.(float64)
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return fieldError("validation_not_a_number", "Must be a finite number.")
	}
	if f.OnlyInt && n != math.Trunc(n) {
		return fieldError("validation_only_int_constraint", "Decimal numbers are not allowed.")
	}
	if f.Min != nil && n < *f.Min {
		return fieldError("validation_min_number_constraint", "Must be larger than %v.", *f.Min)
	}
	if f.Max != nil && n > *f.Max {
		return fieldError("validation_max_number_constraint", "Must be less than %v.", *f.Max)
	}
	return nil
}

func (numberDef) encodeOptions(f *Field, j *fieldJSON) {
	j.Min, j.Max, j.OnlyInt = numJSON(f.Min), numJSON(f.Max), ptr(f.OnlyInt)
}

func (numberDef) decodeOptions(j *fieldJSON, f *Field) error {
	f.OnlyInt = j.OnlyInt != nil && *j.OnlyInt
	return decodeNumBounds(j, f)
}
