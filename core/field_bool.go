package core

import "strings"

func init() { registerFieldDef(FieldBool, boolDef{}) }

// boolDef: true or false. Forms send text: "true", "1" and "on" are true,
// "false", "0", "off" and "" false, in any case and trimmed.
type boolDef struct{ base }

func (boolDef) Storage(*Field) Storage { return StorageBool }

func (boolDef) Coerce(f *Field, v any) (any, *FieldError) {
	switch b := v.(type) {
	case nil:
		return false, nil
	case bool:
		return b, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "true", "1", "on":
			return true, nil
		case "false", "0", "", "off":
			return false, nil
		}
	case float64:
		if b == 0 || b == 1 {
			return b == 1, nil
		}
	}
	return invalidValue("Must be a boolean.")
}
