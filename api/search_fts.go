package api

import (
	"encoding/json"
)

// appendHighlights adds a search's highlights to a list response:
// ,"highlights":{"<record id>":{"<field>":"…<mark>word</mark>…"}}. The
// snippets are HTML already (package search escapes the text and marks
// the matches), so a client may show them as they are. A list that was
// no search (h nil) gets no key, so its response stays PocketBase's.
func appendHighlights(b []byte, h map[string]map[string]string) []byte {
	if h == nil {
		return b
	}
	enc, err := json.Marshal(h) // maps of strings: cannot fail
	if err != nil {
		return b
	}
	b = append(b, `,"highlights":`...)
	return append(b, enc...)
}
