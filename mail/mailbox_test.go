package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
)

func newTestMailbox(t *testing.T, max int) (*Mailbox, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	b, err := NewMailbox(filepath.Join(t.TempDir(), "mailbox"), max, slog.New(slog.NewTextHandler(&syncWriter{w: &log}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return b, &log
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestMailboxSendListGet(t *testing.T) {
	t.Parallel()
	b, log := newTestMailbox(t, 0)
	ctx := context.Background()
	for i := range 3 {
		m := testMessage()
		m.Subject = fmt.Sprintf("message %d", i)
		m.Text = fmt.Sprintf("secret body %d", i)
		m.Headers = map[string]string{"X-N": fmt.Sprint(i)}
		if err := b.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	all, err := b.List(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("List(0) returned %d messages", len(all))
	}
	for i, s := range all {
		if want := fmt.Sprintf("message %d", 2-i); s.Subject != want {
			t.Errorf("List[%d].Subject = %q, want %q (newest first)", i, s.Subject, want)
		}
		if s.From != "Tortoise <no-reply@example.com>" || s.To != "ann@example.com" || s.HTML != testMessage().HTML || s.Time.IsZero() {
			t.Errorf("List[%d] = %+v", i, s)
		}
	}
	two, err := b.List(2)
	if err != nil || len(two) != 2 || two[0].ID != all[0].ID {
		t.Errorf("List(2) = %d messages, %v", len(two), err)
	}

	got, err := b.Get(all[1].ID)
	if err != nil || got.Text != "secret body 1" || got.Headers["X-N"] != "1" {
		t.Errorf("Get = %+v, %v", got, err)
	}
	for _, id := range []string{"nope", "../mailbox/" + all[0].ID, "20260101T000000.000000000Z-00000000"} {
		if _, err := b.Get(id); core.KindOf(err) != core.KindNotFound {
			t.Errorf("Get(%q) = %v, want KindNotFound", id, err)
		}
	}

	// The files are JSON with the documented keys, and no temp files remain.
	entries, _ := os.ReadDir(b.Dir())
	if len(entries) != 3 {
		t.Errorf("mailbox holds %d files, want 3", len(entries))
	}
	raw, err := os.ReadFile(filepath.Join(b.Dir(), all[0].ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "time", "from", "to", "subject", "text", "html"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("stored JSON lacks %q", k)
		}
	}

	// The log names recipient and subject, never the body.
	if s := log.String(); !strings.Contains(s, "message 2") || !strings.Contains(s, "ann@example.com") || strings.Contains(s, "secret body") {
		t.Errorf("log = %s", s)
	}
}

func TestMailboxLatest(t *testing.T) {
	t.Parallel()
	b, _ := newTestMailbox(t, 0)
	ctx := context.Background()
	send := func(to, subject string) {
		t.Helper()
		m := testMessage()
		m.To, m.Subject = to, subject
		if err := b.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	send("ann@example.com", "first for ann")
	send("Bob <bob@example.com>, carl@example.com", "for bob and carl")
	send("ann@example.com", "second for ann")
	tests := []struct {
		to, want string
	}{
		{"ann@example.com", "second for ann"},
		{"ANN@example.com", "second for ann"},
		{"Ann <ann@example.com>", "second for ann"},
		{"bob@example.com", "for bob and carl"},
		{"carl@example.com", "for bob and carl"},
		{"dave@example.com", ""},
	}
	for _, tt := range tests {
		s, err := b.Latest(tt.to)
		if tt.want == "" {
			if core.KindOf(err) != core.KindNotFound {
				t.Errorf("Latest(%q) = %v, want KindNotFound", tt.to, err)
			}
			continue
		}
		if err != nil || s.Subject != tt.want {
			t.Errorf("Latest(%q) = %v, %v; want %q", tt.to, s, err, tt.want)
		}
	}
}

func TestMailboxRotation(t *testing.T) {
	t.Parallel()
	b, _ := newTestMailbox(t, 5)
	ctx := context.Background()
	for i := range 12 {
		m := testMessage()
		m.Subject = fmt.Sprint(i)
		if err := b.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	all, err := b.List(0)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, s := range all {
		subjects = append(subjects, s.Subject)
	}
	if got := strings.Join(subjects, ","); got != "11,10,9,8,7" {
		t.Errorf("kept %s, want the newest five", got)
	}
	entries, _ := os.ReadDir(b.Dir())
	if len(entries) != 5 {
		t.Errorf("mailbox holds %d files, want 5", len(entries))
	}
}

func TestMailboxConcurrentSend(t *testing.T) {
	t.Parallel()
	b, _ := newTestMailbox(t, 0)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			m := testMessage()
			m.Subject = fmt.Sprint(i)
			if err := b.Send(context.Background(), m); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	all, err := b.List(0)
	if err != nil || len(all) != 20 {
		t.Errorf("List = %d messages, %v", len(all), err)
	}
}

func TestMailboxRejects(t *testing.T) {
	t.Parallel()
	b, _ := newTestMailbox(t, 0)
	m := testMessage()
	m.Subject = "hi\r\nBcc: eve@example.com"
	if err := b.Send(context.Background(), m); core.KindOf(err) != core.KindInvalid {
		t.Errorf("Send with injected header = %v, want KindInvalid", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Send(ctx, testMessage()); core.KindOf(err) != core.KindUnavailable {
		t.Errorf("Send with ended context = %v, want KindUnavailable", err)
	}
	if all, _ := b.List(0); len(all) != 0 {
		t.Errorf("rejected messages were stored: %v", all)
	}
}
