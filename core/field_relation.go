package core

import (
	"fmt"
	"strings"
)

func init() { registerFieldDef(FieldRelation, relationDef{}) }

// maxMultiple bounds how many items any list field holds.
const maxMultiple = 1000

// relationDef: the id of one (maxSelect 1) or several records of another
// collection. That the records exist is checked by the service layer,
// which has the database.
type relationDef struct{ base }

func (relationDef) Storage(f *Field) Storage { return choiceStorage(f) }

func (relationDef) Coerce(f *Field, v any) (any, *FieldError) { return coerceChoice(f, v) }

func (relationDef) Validate(f *Field, v any) *FieldError {
	l := StringsOf(v)
	if fe := checkListSize(f, l); fe != nil {
		return fe
	}
	if len(l) > 0 && len(l) < f.MinSelect {
		return fieldError("validation_not_enough_values", "Select at least %d.", f.MinSelect)
	}
	for _, id := range l {
		if len(id) > 255 || !ValidName("x"+id) {
			if len(id) > 40 {
				id = id[:40] + "…"
			}
			return fieldError("validation_invalid_relation", "Invalid relation id %q.", id)
		}
	}
	return nil
}

func (relationDef) Prepare(f *Field, ctx PrepareContext, key string, errs ValidationErrors) {
	var target *Collection
	if ctx.Lookup != nil {
		target = ctx.Lookup(f.CollectionID)
	}
	if c := ctx.Collection; target == nil && c != nil && (f.CollectionID == c.ID || strings.EqualFold(f.CollectionID, c.Name)) {
		target = c
	}
	if target == nil {
		errs.Add(key+".collectionId", "validation_missing_collection", fmt.Sprintf("Unknown collection %q.", f.CollectionID))
	} else {
		f.CollectionID = target.ID
	}
	if f.MaxSelect < 0 || f.MinSelect < 0 {
		errs.Add(key+".maxSelect", "validation_invalid_select", "Must not be negative.")
	}
	if f.MaxSelect < 1 {
		f.MaxSelect = 1
	}
	if f.MinSelect > f.MaxSelect {
		errs.Add(key+".minSelect", "validation_invalid_select", "minSelect cannot exceed maxSelect.")
	}
}

func (relationDef) encodeOptions(f *Field, j *fieldJSON) {
	j.CollectionID, j.CascadeDelete = ptr(f.CollectionID), ptr(f.CascadeDelete)
	j.MinSelect, j.MaxSelect = ptr(f.MinSelect), ptr(f.MaxSelect)
}

func (relationDef) decodeOptions(j *fieldJSON, f *Field) error {
	if j.CollectionID != nil {
		f.CollectionID = *j.CollectionID
	}
	f.CascadeDelete = j.CascadeDelete != nil && *j.CascadeDelete
	if j.MinSelect != nil {
		f.MinSelect = *j.MinSelect
	}
	if j.MaxSelect != nil {
		f.MaxSelect = *j.MaxSelect
	}
	return nil
}

// checkListSize bounds a relation's or file's list by maxSelect and by
// maxMultiple.
func checkListSize(f *Field, l []string) *FieldError {
	if f.IsMultiple() && len(l) > f.MaxSelect {
		return fieldError("validation_too_many_values", "Select no more than %d.", f.MaxSelect)
	}
	if len(l) > maxMultiple {
		return fieldError("validation_too_many_values", "Select no more than %d.", maxMultiple)
	}
	return nil
}
