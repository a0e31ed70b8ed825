package jobs

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/outbound"
)

// Built-in kinds' names.
const (
	KindHTTP  = "http"
	KindEmail = "email"
)

// HTTPArgs are the args of an "http" job: one request to a URL outside
// (private and cloud-metadata addresses are refused unless allowed, see
// package outbound).
type HTTPArgs struct {
	Method  string            `json:"method"` // default GET
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	// Timeout in seconds for the whole request (default 30, at most 300).
	Timeout int `json:"timeout"`
}

// maxHTTPError is how much of an answer's body an error message keeps.
const maxHTTPError = 512

// HTTPKind is the "http" kind: it sends the request and succeeds on a 2xx
// answer. A network error, a 408, 429 or 5xx answer is retried; any other
// answer, and a refused address, cancels the job (retrying cannot help).
// client makes the outbound client for a job, so its allow-list can follow
// the settings.
func HTTPKind(client func(timeout time.Duration) *http.Client) Kind {
	return Kind{
		Name:        KindHTTP,
		MaxAttempts: 8,
		Timeout:     5 * time.Minute,
		Handler: func(ctx context.Context, j *Job) error {
			var a HTTPArgs
			if err := json.Unmarshal(j.Args, &a); err != nil {
				return Cancel(fmt.Errorf("args: %w", err))
			}
			timeout := 30 * time.Second
			if a.Timeout > 0 {
				timeout = time.Duration(min(a.Timeout, 300)) * time.Second
			}
			req, err := http.NewRequestWithContext(ctx, strings.ToUpper(cmp.Or(a.Method, http.MethodGet)), a.URL, strings.NewReader(a.Body))
			if err != nil {
				return Cancel(err)
			}
			for k, v := range a.Headers {
				req.Header.Set(k, v)
			}
			_, err = Send(client(timeout), req)
			return err
		},
	}
}

// Send sends req with client and reads the answer, for the kinds that
// call out (http, webhook deliveries): it returns the status, and an
// error to retry or a Cancel for what retrying cannot fix.
func Send(client *http.Client, req *http.Request) (status int, err error) {
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, outbound.ErrBlocked) {
			return 0, Cancel(err)
		}
		return 0, err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxHTTPError))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return s, nil
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return s, fmt.Errorf("%s answered %d: %s", req.URL.Redacted(), s, bytes.TrimSpace(head))
	default:
		return s, Cancel(fmt.Errorf("%s answered %d: %s", req.URL.Redacted(), s, bytes.TrimSpace(head)))
	}
}

// EmailArgs are the args of an "email" job.
type EmailArgs struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// EmailKind is the "email" kind: send delivers the message from the
// app's sender (the settings' SMTP server or the dev mailbox). A message
// the mail server refuses for good (a bad address) is cancelled; a server
// that cannot be reached is retried.
func EmailKind(send func(ctx context.Context, to, subject, text, html string) error) Kind {
	return Kind{
		Name:        KindEmail,
		MaxAttempts: 10,
		Timeout:     2 * time.Minute,
		Handler: func(ctx context.Context, j *Job) error {
			var a EmailArgs
			if err := json.Unmarshal(j.Args, &a); err != nil {
				return Cancel(fmt.Errorf("args: %w", err))
			}
			if a.To == "" || (a.Text == "" && a.HTML == "") {
				return Cancel(errors.New("args: give to, and text or html"))
			}
			err := send(ctx, a.To, a.Subject, a.Text, a.HTML)
			if err != nil && core.KindOf(err) == core.KindInvalid {
				return Cancel(err)
			}
			return err
		},
	}
}
