package admin

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/core"
)

// The inline rule check: while a rule is typed, htmx posts the whole
// editor form here (hx-trigger keyup, 400 ms after the last key) and
// swaps in what collections.Service.CheckRule says of the rule, checked
// against the draft exactly as saving it would check it: fine, with what
// the rule means, or the filter's problem with its position marked under
// the expression.

// colRuleCheck is what the editor says of a rule.
type colRuleCheck struct {
	OK   bool
	Note string // what a rule that checks means
	// Message is the problem, without its position; Line and Column (from
	// 1) place it, 0 when it has no position; Excerpt is that line of the
	// expression and Caret marks the column under it.
	Message        string
	Line, Column   int
	Excerpt, Caret string
}

// colRuleVerbs say what each rule lets through.
var colRuleVerbs = map[string]string{
	"listRule": "list and search the records", "viewRule": "view a record", "createRule": "create records",
	"updateRule": "update records", "deleteRule": "delete records", "authRule": "sign in",
	"manageRule": "manage the accounts",
}

// filterPositionSuffix is how the filter package ends every message about a
// place in an expression (filter.parseError: "... at position N", N a
// byte offset from 0).
var filterPositionSuffix = regexp.MustCompile(` at position (\d+)$`)

// ruleCheckOf reads a rule's error message, marking its position in src.
func ruleCheckOf(src, msg string) *colRuleCheck {
	c := &colRuleCheck{Message: colUpperFirst(msg)}
	m := filterPositionSuffix.FindStringSubmatchIndex(msg)
	if m == nil {
		return c
	}
	pos, err := strconv.Atoi(msg[m[2]:m[3]])
	if err != nil || pos < 0 || pos > len(src) || !utf8.ValidString(src[:pos]) {
		return c
	}
	c.Message = colUpperFirst(msg[:m[0]])
	start := strings.LastIndexByte(src[:pos], '\n') + 1
	end := strings.IndexByte(src[pos:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += pos
	}
	prefix := src[start:pos]
	c.Line = strings.Count(src[:start], "\n") + 1
	c.Column = utf8.RuneCountInString(prefix) + 1
	c.Excerpt = strings.TrimRight(src[start:end], "\r")
	var b strings.Builder
	for _, r := range prefix {
		if r == '\t' {
			b.WriteByte('\t') // keeps the caret under the column
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteByte('^')
	c.Caret = b.String()
	return c
}

func colUpperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// checkRule answers the editor's inline check of the rule named by the
// form's "check" (the editor's other inputs are the draft it belongs to).
func (a *Admin) checkRule(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := parseForm(w, r, maxEditorForm); err != nil {
		return err
	}
	name := r.PostFormValue("check")
	if !isColRule(name) {
		return core.FieldInvalid("check", "validation_invalid_rule", "Unknown rule.")
	}
	var prev *core.Collection
	original := r.PostFormValue("original")
	if original != "" {
		c, err := a.opts.Service.Collection(original)
		if err != nil {
			return core.NotFound("The collection was deleted: reload the page.")
		}
		prev = c
	}
	_, body, _ := a.readCollectionForm(r.PostForm, prev) // options that do not read are the save's to report
	chk, err := a.checkRuleText(r.Context(), original, body, name, textareaValue(r.PostForm, name), r.PostFormValue(name+".locked") != "")
	if err != nil {
		return err
	}
	return a.colPartial(w, "collection_edit.html", "rulecheck", chk)
}

// checkRuleText checks one rule's text as part of the draft body.
func (a *Admin) checkRuleText(ctx context.Context, original string, body []byte, name, text string, locked bool) (*colRuleCheck, error) {
	verb := colRuleVerbs[name]
	chk := &colRuleCheck{}
	if strings.TrimSpace(text) == "" {
		switch {
		case locked:
			chk.OK, chk.Note = true, "Locked: only superusers may "+verb+"."
		case name == "manageRule":
			chk.Message = "Cannot be empty: lock it (superusers only) or write who may manage the accounts."
		default:
			chk.OK, chk.Note = true, "Empty: everyone may "+verb+", signed in or not."
		}
		return chk, nil
	}
	err := a.opts.Collections.CheckRule(ctx, original, body, text)
	e := core.AsError(err)
	switch {
	case err == nil && locked:
		chk.OK, chk.Note = true, "The expression is valid, but the rule is locked: only superusers may "+verb+". Unlock it to use the expression."
	case err == nil:
		chk.OK, chk.Note = true, "Valid: only requests that match may "+verb+"."
	case e != nil && e.Kind == core.KindInvalid && e.Fields["rule"].Message != "":
		return ruleCheckOf(text, e.Fields["rule"].Message), nil
	case e != nil && e.Kind == core.KindInvalid:
		chk.Message = "The rule cannot be checked until the draft is fixed: " + e.Error()
	default:
		return nil, err
	}
	return chk, nil
}
