package core

func init() { registerFieldDef(FieldFile, fileDef{}) }

// fileDef: the names of one (maxSelect 1) or several stored files. Uploads
// are not supported yet: the service layer refuses values for it.
type fileDef struct{ base }

func (fileDef) Storage(f *Field) Storage { return choiceStorage(f) }

func (fileDef) Coerce(f *Field, v any) (any, *FieldError) { return coerceChoice(f, v) }

func (fileDef) Validate(f *Field, v any) *FieldError { return checkListSize(f, StringsOf(v)) }

func (fileDef) Prepare(f *Field, ctx PrepareContext, key string, errs ValidationErrors) {
	if f.MaxSelect < 1 {
		f.MaxSelect = 1
	}
}

func (fileDef) encodeOptions(f *Field, j *fieldJSON) {
	j.MaxSelect, j.MaxSize = ptr(f.MaxSelect), ptr(f.MaxSize)
	j.MimeTypes, j.Thumbs, j.Protected = ptr(nonNil(f.MimeTypes)), ptr(nonNil(f.Thumbs)), ptr(f.Protected)
}

func (fileDef) decodeOptions(j *fieldJSON, f *Field) error {
	if j.MaxSelect != nil {
		f.MaxSelect = *j.MaxSelect
	}
	if j.MaxSize != nil {
		f.MaxSize = *j.MaxSize
	}
	if j.MimeTypes != nil {
		f.MimeTypes = *j.MimeTypes
	}
	if j.Thumbs != nil {
		f.Thumbs = *j.Thumbs
	}
	f.Protected = j.Protected != nil && *j.Protected
	return nil
}
