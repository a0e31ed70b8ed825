package core

import "net/url"

func init() { registerFieldDef(FieldURL, urlDef{}) }

// urlDef: an http or https URL, optionally limited to some domains.
type urlDef struct{ base }

func (urlDef) Storage(*Field) Storage { return StorageText }

func (urlDef) Coerce(f *Field, v any) (any, *FieldError) { return coerceText(v, false) }

func (urlDef) Validate(f *Field, v any) *FieldError {
	s, _ := v.(string)
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > 2048 {
		return fieldError("validation_is_url", "Must be a valid url.")
	}
	if msg := checkDomain(u.Hostname(), f); msg != "" {
		return fieldError("validation_url_domain", "%s", msg)
	}
	return nil
}

func (urlDef) encodeOptions(f *Field, j *fieldJSON) { domainOptions(f, j) }

func (urlDef) decodeOptions(j *fieldJSON, f *Field) error { return decodeDomainOptions(j, f) }
