package admin

import (
	"net/url"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
)

func TestOpsRemap(t *testing.T) {
	errs := map[string]string{"rules.0.label": "a", "rules.1": "b", "rules.9.x": "c", "other": "d"}
	got := opsRemap(errs, "rules.", []int{2, 5})
	want := map[string]string{"rules.2.label": "a", "rules.5": "b", "rules.9.x": "c", "other": "d"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

func TestOpsErrs(t *testing.T) {
	e := opsErrs{"url": "bad url", "webhook.secret": "no key", "ips.2": "bad ip", "ips": "too many",
		"p.0.clientId": "missing", "p.0.extra.tenant": "bad tenant"}
	if got := e.Rest("url", "ips", "p"); got != "no key" {
		t.Errorf("Rest: %q", got)
	}
	if got := e.ErrList("ips"); got != "too many bad ip" {
		t.Errorf("ErrList: %q", got)
	}
	if got := e.Under("p.0.", "clientId"); got != "bad tenant" {
		t.Errorf("Under: %q", got)
	}
}

func TestOpsForm(t *testing.T) {
	f := &opsForm{v: url.Values{"n": {" 42 "}, "bad": {"4x"}, "list": {"10.0.0.1\r\n, 10.0.0.2\n\n"}, "on": {"on"}}, errs: core.ValidationErrors{}}
	if f.int("n") != 42 || f.int("missing") != 0 {
		t.Error("int")
	}
	f.int("bad")
	if _, ok := f.errs["bad"]; !ok || len(f.errs) != 1 {
		t.Errorf("errs: %v", f.errs)
	}
	if got := f.lines("list"); len(got) != 2 || got[0] != "10.0.0.1" || got[1] != "10.0.0.2" {
		t.Errorf("lines: %q", got)
	}
	if got := f.lines("missing"); got == nil || len(got) != 0 {
		t.Errorf("lines of nothing: %#v, want an empty list", got)
	}
	if !f.on("on") || f.on("n") {
		t.Error("on")
	}
}
