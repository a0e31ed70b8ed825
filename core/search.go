package core

// SearchOptions make a collection's text searchable (GET
// /api/collections/{c}/records?search=…): which fields the index covers,
// how much a match in each counts, and how words are reduced to their
// stems. Stored with the collection and shown by the collections API.
type SearchOptions struct {
	Fields []SearchField `json:"fields"`
	// Language is "" or "simple" (words are matched as written, case and
	// accents folded) or "english" (words are reduced to their stems, so
	// "running" finds "runs": porter on SQLite, the english text search
	// configuration on PostgreSQL).
	Language string `json:"language,omitempty"`
}

// SearchField is one searchable field and its weight (1 when left out or
// 0, at most SearchMaxWeight): a match in a field of weight 3 counts three
// times one in a field of weight 1.
type SearchField struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight,omitempty"`
}

// The search limits. PostgreSQL weighs a tsvector's lexemes with four
// labels (A–D), so a collection has at most SearchMaxClasses distinct
// weight classes, a hidden field's class counted apart from a visible
// one of the same weight (see SearchClasses).
const (
	SearchMaxWeight  = 100
	SearchMaxClasses = 4
	SearchMaxFields  = 32
)

// SearchFieldTypes are the field types whose values are text worth
// searching.
var SearchFieldTypes = map[FieldType]bool{
	FieldText: true, FieldEditor: true, FieldEmail: true, FieldURL: true, FieldSelect: true,
}

// WeightOf returns the field's weight, 1 when unset.
func (f SearchField) WeightOf() float64 {
	if f.Weight == 0 {
		return 1
	}
	return f.Weight
}

// SearchClass is a set of searchable fields that share a weight and
// visibility, and so a PostgreSQL weight label: a query made for a
// caller who may not see hidden fields names only the labels of visible
// classes, so hidden text never matches for them.
type SearchClass struct {
	Label  byte // 'A' (heaviest visible) … 'D'
	Weight float64
	Hidden bool
	Fields []string
}

// SearchPrivate reports whether only superusers may search and see
// highlights of the field f of c: a hidden field, or an auth collection's
// email, which only its owner sees unless they made it visible (matching
// on it would tell anyone who may list the accounts what it is).
func (c *Collection) SearchPrivate(f *Field) bool {
	return f.Hidden || c.IsAuth() && f.Name == "email"
}

// SearchClasses groups c's searchable fields into weight classes and
// labels them: visible classes first, heaviest first, then hidden ones,
// heaviest first. Fields that no longer exist are left out. Validation
// keeps the count at most SearchMaxClasses; past it, later classes share
// the last label.
func (c *Collection) SearchClasses() []SearchClass {
	if c.Search == nil {
		return nil
	}
	var classes []SearchClass
	for _, hidden := range []bool{false, true} {
		var part []SearchClass
		for _, sf := range c.Search.Fields {
			f := c.Field(sf.Name)
			if f == nil || c.SearchPrivate(f) != hidden {
				continue
			}
			w := sf.WeightOf()
			found := false
			for i := range part {
				if part[i].Weight == w {
					part[i].Fields = append(part[i].Fields, sf.Name)
					found = true
					break
				}
			}
			if !found {
				part = append(part, SearchClass{Weight: w, Hidden: hidden, Fields: []string{sf.Name}})
			}
		}
		// Heaviest first (insertion sort: a handful of classes).
		for i := 1; i < len(part); i++ {
			for j := i; j > 0 && part[j].Weight > part[j-1].Weight; j-- {
				part[j], part[j-1] = part[j-1], part[j]
			}
		}
		classes = append(classes, part...)
	}
	for i := range classes {
		classes[i].Label = byte('A' + min(i, SearchMaxClasses-1))
	}
	return classes
}

// SearchLabels returns the weight labels of the classes holding any of
// columns, such as "AB".
func (c *Collection) SearchLabels(columns []string) string {
	var out []byte
	for _, cl := range c.SearchClasses() {
		for _, f := range cl.Fields {
			if containsString(columns, f) {
				if len(out) == 0 || out[len(out)-1] != cl.Label {
					out = append(out, cl.Label)
				}
				break
			}
		}
	}
	return string(out)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SearchWeight returns the weight of the searchable field name, 0 when
// it is not searchable.
func (c *Collection) SearchWeight(name string) float64 {
	if c.Search == nil {
		return 0
	}
	for _, sf := range c.Search.Fields {
		if sf.Name == name {
			return sf.WeightOf()
		}
	}
	return 0
}
