package core

func init() { registerFieldDef(FieldPassword, passwordDef{}) }

// passwordDef: a secret kept as a bcrypt hash. The canonical value read
// from a body is the plain text; the service layer hashes it before it is
// stored, and the hash never leaves the server.
type passwordDef struct{}

func (passwordDef) Storage(*Field) Storage { return StorageText }
func (passwordDef) Secret() bool           { return true }

func (passwordDef) Coerce(f *Field, v any) (any, *FieldError) { return coerceText(v, false) }

// Validate checks a plain-text password against the bounds and pattern;
// without a max, bcrypt's own limit applies when it is hashed.
func (passwordDef) Validate(f *Field, v any) *FieldError {
	s, _ := v.(string)
	max := -1
	if f.Max != nil {
		max = int(*f.Max)
	}
	return checkText(f, s, max)
}

func (passwordDef) Prepare(f *Field, ctx PrepareContext, key string, errs ValidationErrors) {
	prepareTextBounds(f, key, errs)
}

func (passwordDef) encodeOptions(f *Field, j *fieldJSON) {
	textBounds(f, j)
	j.Cost = ptr(f.Cost)
}

func (passwordDef) decodeOptions(j *fieldJSON, f *Field) error {
	if j.Cost != nil {
		f.Cost = *j.Cost
	}
	return decodeTextBounds(j, f)
}
