package collections

import (
	"fmt"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
)

// validateSearch checks next's search option (see core.SearchOptions)
// and follows field renames: fields are matched by id, so a searchable
// field renamed in the same update stays searchable under its new name.
// A searchable field cannot be dropped while the option lists it, so that
// removing text from the index is a deliberate change of the option.
func validateSearch(prev, next *core.Collection, errs core.ValidationErrors) {
	so := next.Search
	if so == nil {
		return
	}
	if next.IsView() {
		errs.Add("search", "validation_search_view", "View collections cannot be searchable: make the collections they read searchable.")
		return
	}
	switch so.Language {
	case "", "simple", "english":
	default:
		errs.Add("search.language", "validation_invalid_language", `Must be "simple" or "english".`)
	}
	if len(so.Fields) == 0 {
		errs.Add("search.fields", "validation_required", "List at least one searchable field, or set search to null.")
		return
	}
	if len(so.Fields) > core.SearchMaxFields {
		errs.Add("search.fields", "validation_too_many", fmt.Sprintf("At most %d searchable fields.", core.SearchMaxFields))
		return
	}
	seen := map[string]bool{}
	for i := range so.Fields {
		sf := &so.Fields[i]
		key := fmt.Sprintf("search.fields.%d", i)
		f := next.Field(sf.Name)
		if f == nil && prev != nil {
			if old := prev.Field(sf.Name); old != nil {
				if renamed := next.FieldByID(old.ID); renamed != nil {
					sf.Name = renamed.Name
					f = renamed
				} else {
					errs.Add(key+".name", "validation_search_field_dropped",
						fmt.Sprintf("Field %q is searchable: remove it from search.fields before removing the field.", sf.Name))
					continue
				}
			}
		}
		switch {
		case f == nil:
			errs.Add(key+".name", "validation_unknown_field", fmt.Sprintf("Unknown field %q.", sf.Name))
			continue
		case !core.SearchFieldTypes[f.Type]:
			errs.Add(key+".name", "validation_search_field_type",
				fmt.Sprintf("Field %q is a %s field: only text, editor, email, url and select fields are searchable.", sf.Name, f.Type))
		case seen[strings.ToLower(sf.Name)]:
			errs.Add(key+".name", "validation_duplicated_name", fmt.Sprintf("Field %q is listed twice.", sf.Name))
		case searchReservedNames[strings.ToLower(sf.Name)]:
			// FTS5 keeps these names for itself (columns, operators).
			errs.Add(key+".name", "validation_reserved_name", fmt.Sprintf("A field named %q cannot be searchable.", sf.Name))
		}
		seen[strings.ToLower(sf.Name)] = true
		if sf.Weight < 0 || sf.Weight > core.SearchMaxWeight || sf.Weight != sf.Weight {
			errs.Add(key+".weight", "validation_invalid_weight", fmt.Sprintf("Must be more than 0 and at most %d.", core.SearchMaxWeight))
		}
	}
	if len(errs) > 0 {
		return
	}
	type class struct {
		w      float64
		hidden bool
	}
	classes := map[class]bool{}
	for _, sf := range so.Fields {
		classes[class{sf.WeightOf(), next.SearchPrivate(next.Field(sf.Name))}] = true
	}
	if len(classes) > core.SearchMaxClasses {
		errs.Add("search.fields", "validation_too_many_weights",
			fmt.Sprintf("At most %d distinct weights (a hidden field's weight counts apart from a visible field's).", core.SearchMaxClasses))
	}
}

var searchReservedNames = map[string]bool{"rank": true, "rowid": true, "and": true, "or": true, "not": true, "near": true}
