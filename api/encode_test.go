package api

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tortoise-dev/tortoise/core"
)

func TestAppendRecordHidesSecrets(t *testing.T) {
	t.Parallel()
	users := &core.Collection{ID: "pbc_users", Name: "users", Type: core.TypeAuth, Fields: []core.Field{
		{Name: "id", Type: core.FieldText},
		{Name: "password", Type: core.FieldPassword, Hidden: true},
		{Name: "tokenKey", Type: core.FieldText, Hidden: true},
		{Name: "email", Type: core.FieldEmail},
		{Name: "emailVisibility", Type: core.FieldBool},
		{Name: "secretNote", Type: core.FieldText, Hidden: true},
		{Name: "name", Type: core.FieldText},
	}}
	rec := &core.Record{Collection: users, Data: map[string]any{
		"id": "aaaaaaaaaaaaaaa", "password": "$2a$hash", "tokenKey": "tk", "email": "a@example.com",
		"emailVisibility": false, "secretNote": "note", "name": "Ann",
	}}
	other := &core.Record{Collection: users, Data: map[string]any{"id": "bbbbbbbbbbbbbbb"}}
	tests := []struct {
		name      string
		v         viewer
		want, not []string
	}{
		{"guest", viewer{}, []string{`"name":"Ann"`}, []string{"hash", "tk", "note", "a@example.com"}},
		{"other user", viewer{auth: other}, []string{`"name":"Ann"`}, []string{"hash", `"tk"`, "note", "a@example.com"}},
		{"owner", viewer{auth: rec}, []string{`"email":"a@example.com"`}, []string{"hash", `"tk"`, "note"}},
		{"superuser", viewer{superuser: true}, []string{`"email":"a@example.com"`, `"secretNote":"note"`}, []string{"hash", `"tk"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := string(appendRecord(nil, rec, tt.v, nil))
			if !json.Valid([]byte(out)) {
				t.Fatalf("invalid JSON: %s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s: missing %s in %s", tt.name, w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("%s: leaked %s in %s", tt.name, n, out)
				}
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	c := &core.Collection{ID: "c1", Name: "posts", Fields: []core.Field{
		{Name: "id", Type: core.FieldText}, {Name: "title", Type: core.FieldText}, {Name: "body", Type: core.FieldEditor},
	}}
	rec := &core.Record{Collection: c, Data: map[string]any{"id": "x", "title": "T", "body": "<p>Hello   <b>big</b> world</p>"}}
	rec.Expand = map[string]any{"author": &core.Record{Collection: c, Data: map[string]any{"id": "y", "title": "A", "body": ""}}}
	tests := []struct {
		param, want string
	}{
		{"id,title", `{"id":"x","title":"T"}`},
		{"body:excerpt(9,true)", `{"body":"Hello big..."}`},
		{"id,expand.author.title", `{"id":"x","expand":{"author":{"title":"A"}}}`},
		{"*", `{"collectionId":"c1","collectionName":"posts","id":"x","title":"T","body":"\u003cp\u003eHello   \u003cb\u003ebig\u003c/b\u003e world\u003c/p\u003e","expand":{"author":{"collectionId":"c1","collectionName":"posts","id":"y","title":"A","body":""}}}`},
	}
	for _, tt := range tests {
		sel, err := parseFields(tt.param)
		if err != nil {
			t.Fatalf("parseFields(%q): %v", tt.param, err)
		}
		if got := string(appendRecord(nil, rec, viewer{}, sel)); got != tt.want {
			t.Errorf("fields=%s:\n got %s\nwant %s", tt.param, got, tt.want)
		}
	}
	for _, bad := range []string{"title:unknown(1)", "body:excerpt(0)", "a..b"} {
		if _, err := parseFields(bad); core.KindOf(err) != core.KindInvalid {
			t.Errorf("parseFields(%q) = %v, want an invalid error", bad, err)
		}
	}
}

func TestExcerptCountsRunes(t *testing.T) {
	t.Parallel()
	if got := excerpt("🐢🐢🐢🐢", 2, false); got != "🐢🐢" || !utf8.ValidString(got) {
		t.Errorf("excerpt = %q", got)
	}
}
