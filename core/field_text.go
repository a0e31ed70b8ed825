package core

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

func init() { registerFieldDef(FieldText, textDef{}) }

// defaultTextMax bounds a text field that sets no max, as PocketBase does.
const defaultTextMax = 5000

// textDef: plain text with optional length bounds and a pattern; the id
// field is a text field with an autogenerate pattern.
type textDef struct{ base }

func (textDef) Storage(*Field) Storage { return StorageText }

func (textDef) Coerce(f *Field, v any) (any, *FieldError) { return coerceText(v, true) }

func (textDef) Validate(f *Field, v any) *FieldError {
	s, _ := v.(string)
	max := defaultTextMax
	if f.Max != nil {
		max = int(*f.Max)
	}
	return checkText(f, s, max)
}

// errNUL refuses a value that holds the NUL character: PostgreSQL's text
// and jsonb cannot keep it, and what SQLite would keep could not move to
// PostgreSQL.
func errNUL() *FieldError {
	return fieldError("validation_invalid_value", "Must not contain the NUL character (U+0000).")
}

// checkText checks text against f's bounds (max < 0: none) and pattern;
// empty text is left to Required.
func checkText(f *Field, s string, max int) *FieldError {
	if !utf8.ValidString(s) {
		return fieldError("validation_invalid_value", "Must be valid UTF-8 text.")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errNUL()
	}
	if s == "" {
		return nil
	}
	n := utf8.RuneCountInString(s)
	if f.Min != nil && n < int(*f.Min) {
		return fieldError("validation_min_text_constraint", "Must be at least %d character(s).", int(*f.Min))
	}
	if max >= 0 && n > max {
		return fieldError("validation_max_text_constraint", "Must be less than %d character(s).", max)
	}
	return checkPattern(f, s)
}

func (textDef) Prepare(f *Field, ctx PrepareContext, key string, errs ValidationErrors) {
	prepareTextBounds(f, key, errs)
	if f.AutogeneratePattern != "" {
		if err := CheckGeneratorPattern(f.AutogeneratePattern); err != nil {
			errs.Add(key+".autogeneratePattern", "validation_invalid_regex", err.Error())
		}
	}
}

func (textDef) encodeOptions(f *Field, j *fieldJSON) {
	textBounds(f, j)
	j.AutogeneratePattern = ptr(f.AutogeneratePattern)
	j.PrimaryKey = ptr(f.PrimaryKey)
}

func (textDef) decodeOptions(j *fieldJSON, f *Field) error {
	if j.AutogeneratePattern != nil {
		f.AutogeneratePattern = *j.AutogeneratePattern
	}
	return decodeTextBounds(j, f)
}

// checkPattern matches s against f's pattern; a pattern that does not
// compile (refused when saved) matches everything.
func checkPattern(f *Field, s string) *FieldError {
	if f.Pattern == "" {
		return nil
	}
	if re, err := cachedRegexp(f.Pattern); err == nil && !re.MatchString(s) {
		return fieldError("validation_invalid_format", "Invalid value format.")
	}
	return nil
}

func formatNumber(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

var (
	patternCacheMu sync.Mutex
	patternCache   = map[string]*regexp.Regexp{}
)

// cachedRegexp compiles a field's pattern once (bounded: the cache is
// dropped when it grows past a thousand patterns).
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
