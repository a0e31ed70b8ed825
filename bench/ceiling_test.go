package main

import (
	"io"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary be startCeilingProcess's child, as the
// bench binary is.
func TestMain(m *testing.M) {
	serveCeilingChild()
	os.Exit(m.Run())
}

// TestCeilingProcess: the child serves the sample's bytes as JSON from a
// process of its own, and is gone once stopped.
func TestCeilingProcess(t *testing.T) {
	body := []byte(`{"id":"abc","title":"sample"}`)
	u, stop, err := startCeilingProcess(body)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(u.String() + "/api/collections/items/records/abc")
	if err != nil {
		stop()
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != string(body) || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("answer %q (%s), want %q as JSON", got, resp.Header.Get("Content-Type"), body)
	}
	stop()
	if _, err := c.Get(u.String()); err == nil {
		t.Error("the ceiling process still answers after stop")
	}
}
