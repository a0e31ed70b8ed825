package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/fsutil"
)

// DefaultMailboxSize is how many messages a Mailbox keeps unless told
// otherwise.
const DefaultMailboxSize = 500

// Stored is a message as a Mailbox keeps it.
type Stored struct {
	ID      string            `json:"id"`
	Time    time.Time         `json:"time"`
	From    string            `json:"from"`
	To      string            `json:"to"`
	Subject string            `json:"subject"`
	Text    string            `json:"text"`
	HTML    string            `json:"html"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Mailbox is the development mailer used when no SMTP server is
// configured: each message becomes one JSON file in a folder (conventionally
// DIR/mailbox), where developers, tests and the admin panel read it back.
// It keeps the newest Max messages and deletes older ones. It is safe for
// concurrent use within one process.
type Mailbox struct {
	dir    string
	max    int
	logger *slog.Logger

	mu   sync.Mutex
	last time.Time // the newest ID's time, so IDs sort in send order
}

var _ Mailer = (*Mailbox)(nil)

// NewMailbox returns a Mailbox writing to dir, creating it if needed.
// max <= 0 means DefaultMailboxSize; a nil logger discards the log lines.
func NewMailbox(dir string, max int, logger *slog.Logger) (*Mailbox, error) {
	if dir == "" {
		return nil, fmt.Errorf("mailbox folder must be set")
	}
	if max <= 0 {
		max = DefaultMailboxSize
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create mailbox %s: %w", dir, err)
	}
	return &Mailbox{dir: dir, max: max, logger: logger}, nil
}

// Dir returns the folder the messages are written to.
func (b *Mailbox) Dir() string { return b.dir }

// idPattern matches the IDs Mailbox writes: a UTC time to the nanosecond,
// so names sort in send order, and a random suffix.
var idPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-[0-9a-f]{8}$`)

const idLayout = "20060102T150405.000000000Z"

// Send validates m as SMTP would, writes it atomically (a temporary file
// renamed into place) and logs its recipient and subject at info level. It
// returns KindInvalid for a malformed message, KindUnavailable when ctx has
// ended, and KindInternal when the file cannot be written.
func (b *Mailbox) Send(ctx context.Context, m Message) error {
	if _, err := m.envelope(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now().UTC()
	if !now.After(b.last) {
		now = b.last.Add(time.Nanosecond)
	}
	b.last = now
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
	s := Stored{
		ID: now.Format(idLayout) + "-" + hex.EncodeToString(r[:]), Time: now,
		From: m.From, To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML, Headers: m.Headers,
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return core.Internal(err, "Failed to store the email.")
	}
	if err := fsutil.WriteFileDurable(filepath.Join(b.dir, s.ID+".json"), data, 0o600); err != nil {
		return core.Internal(err, "Failed to store the email.")
	}
	b.logger.Info("mail written to mailbox", "id", s.ID, "to", m.To, "subject", m.Subject)
	if err := b.rotate(); err != nil {
		b.logger.Warn("mailbox rotation failed", "err", err)
	}
	return nil
}

// ids returns the stored message IDs, newest first.
func (b *Mailbox) ids() ([]string, error) {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, fmt.Errorf("read mailbox: %w", err)
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && e.Type().IsRegular() && idPattern.MatchString(id) {
			ids = append(ids, id)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	return ids, nil
}

// rotate deletes the oldest messages beyond the limit. The caller holds mu.
func (b *Mailbox) rotate() error {
	ids, err := b.ids()
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids[min(len(ids), b.max):] {
		if err := os.Remove(filepath.Join(b.dir, id+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// List returns up to limit stored messages, newest first; limit <= 0 means
// all of them. It returns KindInternal when the folder cannot be read.
func (b *Mailbox) List(limit int) ([]Stored, error) {
	ids, err := b.ids()
	if err != nil {
		return nil, core.Internal(err, "Failed to read the mailbox.")
	}
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]Stored, 0, len(ids))
	for _, id := range ids {
		s, err := b.read(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue // rotated away since ReadDir
		}
		if err != nil {
			return nil, core.Internal(err, "Failed to read the mailbox.")
		}
		out = append(out, *s)
	}
	return out, nil
}

// Get returns the message with the given ID, KindNotFound when there is
// none (or id is not an ID Mailbox writes), or KindInternal when it cannot
// be read.
func (b *Mailbox) Get(id string) (*Stored, error) {
	if !idPattern.MatchString(id) {
		return nil, core.NotFound("The requested email doesn't exist.")
	}
	s, err := b.read(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, core.NotFound("The requested email doesn't exist.")
	}
	if err != nil {
		return nil, core.Internal(err, "Failed to read the mailbox.")
	}
	return s, nil
}

// Latest returns the newest message addressed to the given address
// (compared case-insensitively, display names ignored), KindNotFound when
// there is none, or KindInternal when the mailbox cannot be read.
func (b *Mailbox) Latest(to string) (*Stored, error) {
	want := to
	if a, err := mail.ParseAddress(to); err == nil {
		want = a.Address
	}
	ids, err := b.ids()
	if err != nil {
		return nil, core.Internal(err, "Failed to read the mailbox.")
	}
	for _, id := range ids {
		s, err := b.read(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, core.Internal(err, "Failed to read the mailbox.")
		}
		list, err := mail.ParseAddressList(s.To)
		if err != nil {
			continue
		}
		for _, a := range list {
			if strings.EqualFold(a.Address, want) {
				return s, nil
			}
		}
	}
	return nil, core.NotFound("No email to %s.", want)
}

func (b *Mailbox) read(id string) (*Stored, error) {
	data, err := os.ReadFile(filepath.Join(b.dir, id+".json"))
	if err != nil {
		return nil, err
	}
	var s Stored
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode %s: %w", id, err)
	}
	return &s, nil
}
