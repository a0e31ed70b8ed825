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

// FormatNumber is a number as text, the one form in which the filter
// language compares numbers with text (~ on a number field, a number
// compared with text) on every engine: a whole number below 2^53 in
// magnitude in full ("3", "-2", "1718123456789012"), any other number
// rounded to 15 significant digits and written out without an exponent
// or trailing zeros ("3.5", "0.3" for 0.1+0.2, "1000000000000000000000").
// Negative zero is "0".
//
// Fifteen digits are what every double holds exactly, so the text does
// not depend on an engine's own shortest-form algorithm: PostgreSQL gets
// the same text from its numeric cast, SQLite from SQLiteNumberText.
func FormatNumber(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
		return strconv.FormatInt(int64(x), 10)
	}
	s := strconv.FormatFloat(x, 'e', 14, 64) // [-]d.dddddddddddddde±dd
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	e := strings.IndexByte(s, 'e')
	exp, _ := strconv.Atoi(s[e+1:])
	digits := strings.TrimRight(s[:1]+s[2:e], "0")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case exp >= len(digits)-1:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", exp-(len(digits)-1)))
	case exp >= 0:
		b.WriteString(digits[:exp+1])
		b.WriteByte('.')
		b.WriteString(digits[exp+1:])
	default:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -exp-1))
		b.WriteString(digits)
	}
	return b.String()
}

// SQLiteNumberText names the SQL function, registered on SQLite
// connections by package store/sqlite, that computes FormatNumber of its
// one argument (NULL for NULL). The filter language's SQL for SQLite
// calls it; SQLite's own number-to-text casts write "3.0" and round
// differently.
const SQLiteNumberText = "tortoise_number_text"
