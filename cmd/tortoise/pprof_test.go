package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"
)

// TORTOISE_PPROF_ADDR serves Go's profiler on a listener of its own; an
// address that cannot be listened on is an error naming the setting.
func TestServePprof(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	if err := servePprof(ctx, "127.0.0.1:0", &out); err != nil {
		t.Fatal(err)
	}
	url := regexp.MustCompile(`http://\S+/debug/pprof/`).FindString(out.String())
	if url == "" {
		t.Fatalf("no profiler address in %q", out.String())
	}
	res, err := http.Get(url + "cmdline")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("GET cmdline: %d %q", res.StatusCode, body)
	}
	err = servePprof(ctx, "256.0.0.1:1", io.Discard)
	if err == nil || !regexp.MustCompile(`^TORTOISE_PPROF_ADDR: `).MatchString(err.Error()) {
		t.Fatalf("bad address: %v", err)
	}
}
