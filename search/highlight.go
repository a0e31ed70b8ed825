package search

import (
	"html"
	"strings"
)

// Marks delimit highlighted words in the snippets the engines produce
// (SQLite's highlight() and snippet(), PostgreSQL's ts_headline with
// StartSel and StopSel): two private-use runes. Stored text may hold them
// too, and a snippet carries them as they are, where they cannot be told
// from the engine's: so a field whose text HasMarks gets no highlight (the
// records layer leaves it out), and a user can neither forge a highlight
// nor break out of one.
const MarkStart, MarkEnd = "\ue000", "\ue001"

// HTML turns an engine's snippet with marks into safe HTML: the text
// HTML-escaped (invalid UTF-8 replaced by U+FFFD), each marked run wrapped
// in <mark>…</mark>. Marks that do not pair up are dropped: a MarkStart
// with no MarkEnd after it, a MarkStart inside a marked run, a MarkEnd
// outside one. Empty marked runs are left out.
func HTML(snippet string) string {
	s := strings.ToValidUTF8(snippet, "\uFFFD")
	var b []byte
	open := -1 // length of b where the open <mark> starts, or -1
	// endLeft: a MarkEnd may follow. Looked up only when a run could open,
	// and a run that opens consumes the MarkEnd found, so the scans add up
	// to one pass over the snippet.
	endLeft := true
	for s != "" {
		i := strings.IndexAny(s, MarkStart+MarkEnd)
		if i < 0 {
			b = append(b, html.EscapeString(s)...)
			break
		}
		b = append(b, html.EscapeString(s[:i])...)
		mark := s[i : i+len(MarkStart)]
		s = s[i+len(MarkStart):]
		switch {
		case mark == MarkStart && open < 0 && endLeft:
			if endLeft = strings.Contains(s, MarkEnd); endLeft {
				open = len(b)
				b = append(b, "<mark>"...)
			}
		case mark == MarkEnd && open >= 0:
			if len(b) == open+len("<mark>") {
				b = b[:open] // nothing was marked
			} else {
				b = append(b, "</mark>"...)
			}
			open = -1
		}
	}
	return string(b)
}

// HasMarks reports whether text holds MarkStart or MarkEnd, which would
// make a snippet of it ambiguous.
func HasMarks(text string) bool { return strings.ContainsAny(text, MarkStart+MarkEnd) }

// cleaner removes the marks.
var cleaner = strings.NewReplacer(MarkStart, "", MarkEnd, "")

// Clean removes MarkStart and MarkEnd from text. The stores index stored
// text as it is (see the marks above); Clean is for callers that index
// text of their own.
func Clean(s string) string {
	if !HasMarks(s) {
		return s
	}
	return cleaner.Replace(s)
}
