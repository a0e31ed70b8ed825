package core

import (
	"net/mail"
	"strings"
)

func init() { registerFieldDef(FieldEmail, emailDef{}) }

// emailDef: one bare email address, optionally limited to some domains.
type emailDef struct{ base }

func (emailDef) Storage(*Field) Storage { return StorageText }

func (emailDef) Coerce(f *Field, v any) (any, *FieldError) { return coerceText(v, false) }

func (emailDef) Validate(f *Field, v any) *FieldError {
	s, _ := v.(string)
	if s == "" {
		return nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return fieldError("validation_is_email", "Must be a valid email address.")
	}
	if msg := checkDomain(s[strings.LastIndexByte(s, '@')+1:], f); msg != "" {
		return fieldError("validation_email_domain", "%s", msg)
	}
	return nil
}

func (emailDef) encodeOptions(f *Field, j *fieldJSON) { domainOptions(f, j) }

func (emailDef) decodeOptions(j *fieldJSON, f *Field) error { return decodeDomainOptions(j, f) }

// domainOptions writes onlyDomains and exceptDomains (email and url).
func domainOptions(f *Field, j *fieldJSON) {
	j.OnlyDomains, j.ExceptDomains = ptr(nonNil(f.OnlyDomains)), ptr(nonNil(f.ExceptDomains))
}

func decodeDomainOptions(j *fieldJSON, f *Field) error {
	if j.OnlyDomains != nil {
		f.OnlyDomains = *j.OnlyDomains
	}
	if j.ExceptDomains != nil {
		f.ExceptDomains = *j.ExceptDomains
	}
	return nil
}

// checkDomain says why host is not allowed by f's domain lists, or "".
func checkDomain(host string, f *Field) string {
	host = strings.ToLower(host)
	inList := func(l []string) bool {
		for _, d := range l {
			if strings.ToLower(d) == host {
				return true
			}
		}
		return false
	}
	if len(f.OnlyDomains) > 0 && !inList(f.OnlyDomains) || inList(f.ExceptDomains) {
		return "Domain is not allowed."
	}
	return ""
}
