package core

import "strings"

func init() { registerFieldDef(FieldSelect, selectDef{}) }

// selectDef: one (maxSelect 1) or several of a fixed list of values.
type selectDef struct{ base }

func (selectDef) Storage(f *Field) Storage { return choiceStorage(f) }

func (selectDef) Coerce(f *Field, v any) (any, *FieldError) { return coerceChoice(f, v) }

func (selectDef) Validate(f *Field, v any) *FieldError {
	for _, s := range StringsOf(v) {
		if !contains(f.Values, s) {
			return fieldError("validation_invalid_value", "Value must be one of: %s.", strings.Join(f.Values, ", "))
		}
	}
	if l, ok := v.([]string); ok && len(l) > f.MaxSelect {
		return fieldError("validation_too_many_values", "Select no more than %d.", f.MaxSelect)
	}
	return nil
}

func (selectDef) Prepare(f *Field, ctx PrepareContext, key string, errs ValidationErrors) {
	if len(f.Values) == 0 {
		errs.Add(key+".values", "validation_required", "A select field needs at least one value.")
	}
	seen := map[string]bool{}
	for _, v := range f.Values {
		if v == "" || seen[v] {
			errs.Add(key+".values", "validation_invalid_values", "Values must be non-empty and unique.")
			break
		}
		seen[v] = true
	}
	if f.MaxSelect < 1 {
		f.MaxSelect = 1
	}
	if f.MaxSelect > len(f.Values) && len(f.Values) > 0 {
		f.MaxSelect = len(f.Values)
	}
}

func (selectDef) encodeOptions(f *Field, j *fieldJSON) {
	j.Values, j.MaxSelect = ptr(nonNil(f.Values)), ptr(f.MaxSelect)
}

func (selectDef) decodeOptions(j *fieldJSON, f *Field) error {
	if j.Values != nil {
		f.Values = *j.Values
	}
	if j.MaxSelect != nil {
		f.MaxSelect = *j.MaxSelect
	}
	return nil
}
