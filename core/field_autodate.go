package core

func init() { registerFieldDef(FieldAutodate, autodateDef{}) }

// autodateDef: a date the server sets on create and/or update; bodies
// cannot set it (the service layer ignores such keys).
type autodateDef struct{ base }

func (autodateDef) Storage(*Field) Storage { return StorageText }

func (autodateDef) Coerce(f *Field, v any) (any, *FieldError) { return coerceText(v, false) }

func (autodateDef) encodeOptions(f *Field, j *fieldJSON) {
	j.Required = nil // never required: the server fills it in
	j.OnCreate, j.OnUpdate = ptr(f.OnCreate), ptr(f.OnUpdate)
}

func (autodateDef) decodeOptions(j *fieldJSON, f *Field) error {
	f.OnCreate = j.OnCreate != nil && *j.OnCreate
	f.OnUpdate = j.OnUpdate != nil && *j.OnUpdate
	return nil
}
