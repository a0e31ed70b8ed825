package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// apiClient speaks the parts of PocketBase's REST API the benchmark needs
// for setup: health, superuser auth, collections, record seeding.
type apiClient struct {
	base  string // e.g. http://127.0.0.1:8090, no trailing slash
	token string // superuser token, sent as the Authorization header
	http  *http.Client
}

// apiError is a non-2xx answer.
type apiError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.Path, e.Status, e.Body)
}

func isStatus(err error, status int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == status
}

func newAPIClient(base string, conns int) *apiClient {
	tr := newTransport(conns)
	return &apiClient{
		base: strings.TrimRight(base, "/"),
		http: &http.Client{Transport: tr, Timeout: 5 * time.Minute},
	}
}

// do sends a JSON request and decodes a JSON answer into out (if not nil).
func (c *apiClient) do(ctx context.Context, method, path string, in []byte, out any) error {
	var body io.Reader
	if in != nil {
		body = bytes.NewReader(in)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &apiError{Method: method, Path: path, Status: resp.StatusCode, Body: snippet(data)}
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode %q: %w", method, path, snippet(data), err)
	}
	return nil
}

func snippet(b []byte) string {
	const limit = 300
	s := strings.TrimSpace(string(b))
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return s
}

func (c *apiClient) health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/api/health", nil, nil)
}

func (c *apiClient) authSuperuser(ctx context.Context, email, password string) error {
	in, _ := json.Marshal(map[string]string{"identity": email, "password": password})
	var out struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/collections/_superusers/auth-with-password", in, &out); err != nil {
		return fmt.Errorf("superuser auth: %w", err)
	}
	if out.Token == "" {
		return errors.New("superuser auth: answer has no token")
	}
	c.token = out.Token
	return nil
}

func collectionPath(name string) string {
	return "/api/collections/" + url.PathEscape(name)
}

func recordsPath(name string) string {
	return collectionPath(name) + "/records"
}

// collectionExists reports whether the collection is there.
func (c *apiClient) collectionExists(ctx context.Context, name string) (bool, error) {
	err := c.do(ctx, http.MethodGet, collectionPath(name), nil, nil)
	switch {
	case err == nil:
		return true, nil
	case isStatus(err, http.StatusNotFound):
		return false, nil
	}
	return false, err
}

func (c *apiClient) deleteCollection(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, collectionPath(name), nil, nil)
}

// createCollection creates the benchmark's base collection with public
// rules, so the measured requests need no auth; searchable makes its
// title (weight 3) and body full-text searchable (Tortoise's search
// option; PocketBase would refuse the unknown key or ignore it).
func (c *apiClient) createCollection(ctx context.Context, name string, searchable bool) error {
	def := map[string]any{
		"name": name,
		"type": "base",
		"fields": []map[string]string{
			{"name": "title", "type": "text"},
			{"name": "body", "type": "text"},
			{"name": "score", "type": "number"},
			{"name": "active", "type": "bool"},
		},
		"listRule":   "",
		"viewRule":   "",
		"createRule": "",
		"updateRule": "",
		"deleteRule": "",
	}
	if searchable {
		def["search"] = map[string]any{"fields": []map[string]any{{"name": "title", "weight": 3}, {"name": "body"}}}
	}
	in, _ := json.Marshal(def)
	return c.do(ctx, http.MethodPost, "/api/collections", in, nil)
}

// countRecords returns the collection's totalItems.
func (c *apiClient) countRecords(ctx context.Context, name string) (int, error) {
	var out struct {
		TotalItems int `json:"totalItems"`
	}
	err := c.do(ctx, http.MethodGet, recordsPath(name)+"?page=1&perPage=1", nil, &out)
	return out.TotalItems, err
}

// recordIDs pages through the collection and returns up to n ids.
func (c *apiClient) recordIDs(ctx context.Context, name string, n int) ([]string, error) {
	const perPage = 500 // PocketBase's long-standing maximum
	ids := make([]string, 0, n)
	seen := make(map[string]bool, n)
	for page := 1; len(ids) < n; page++ {
		var out struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		q := fmt.Sprintf("?page=%d&perPage=%d&skipTotal=1&fields=id", page, perPage)
		if err := c.do(ctx, http.MethodGet, recordsPath(name)+q, nil, &out); err != nil {
			return nil, err
		}
		if len(out.Items) == 0 {
			break
		}
		for _, it := range out.Items {
			if it.ID != "" && !seen[it.ID] && len(ids) < n {
				seen[it.ID] = true
				ids = append(ids, it.ID)
			}
		}
	}
	return ids, nil
}

// seedResult is what seeding measured.
type seedResult struct {
	IDs     []string
	Elapsed time.Duration
	Hist    histogram
}

// seed creates n records with conns concurrent connections and returns
// their ids in creation order. It stops at the first failure: the
// measurements need exactly n records.
func (c *apiClient) seed(ctx context.Context, name string, n, conns int, progress func(done int)) (*seedResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	res := &seedResult{IDs: make([]string, n)}
	var next, done atomic.Int64
	hists := make([]histogram, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conns {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(0x7047, uint64(w)))
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				// A fresh buffer each time, never one the transport may
				// still be writing from.
				buf := appendRecord(make([]byte, 0, 256), rng, uint64(i+1))
				var out struct {
					ID string `json:"id"`
				}
				t0 := time.Now()
				if err := c.do(ctx, http.MethodPost, recordsPath(name), buf, &out); err != nil {
					cancel(fmt.Errorf("seed record %d: %w", i+1, err))
					return
				}
				hists[w].record(time.Since(t0))
				if out.ID == "" {
					cancel(fmt.Errorf("seed record %d: answer has no id", i+1))
					return
				}
				res.IDs[i] = out.ID
				if d := done.Add(1); progress != nil && d%1000 == 0 {
					progress(int(d))
				}
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	for i := range hists {
		res.Hist.merge(&hists[i])
	}
	return res, nil
}

// checkLoopback refuses targets that are not on this machine: the
// generator saturates whatever it points at.
func checkLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse -url: %w", err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("-url %q: only http:// is supported", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return u, nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return u, nil
	}
	return nil, fmt.Errorf("-url %q: only loopback targets (localhost, 127.0.0.0/8, ::1) are allowed", raw)
}

// port returns u's port, defaulting to 80.
func port(u *url.URL) int {
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		return 80
	}
	return p
}

// as returns a client that sends token instead of c's, over the same
// connections.
func (c *apiClient) as(token string) *apiClient {
	return &apiClient{base: c.base, token: token, http: c.http}
}

// createAuthCollection creates an auth collection whose records anyone may
// create and only the record itself may view and change. Its system fields
// (email, password, tokenKey, ...) come from the server's defaults.
func (c *apiClient) createAuthCollection(ctx context.Context, name string) error {
	self := "id = @request.auth.id"
	in, _ := json.Marshal(map[string]any{
		"name":       name,
		"type":       "auth",
		"createRule": "",
		"viewRule":   self,
		"updateRule": self,
	})
	return c.do(ctx, http.MethodPost, "/api/collections", in, nil)
}

// createUser creates an auth record and returns its id. As a superuser,
// c skips the collection's rules and the server's sign-up rate limits.
func (c *apiClient) createUser(ctx context.Context, collection, email, password string) (string, error) {
	in, _ := json.Marshal(map[string]string{"email": email, "password": password, "passwordConfirm": password})
	var out struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, recordsPath(collection), in, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("create user %s: answer has no id", email)
	}
	return out.ID, nil
}

// impersonate returns an auth token for the record id, as the superuser
// c may ask without knowing the record's password and without the login
// rate limits.
func (c *apiClient) impersonate(ctx context.Context, collection, id string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, http.MethodPost, collectionPath(collection)+"/impersonate/"+url.PathEscape(id), []byte("{}"), &out); err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", fmt.Errorf("impersonate %s: answer has no token", id)
	}
	return out.Token, nil
}

// changePassword changes an auth record's password. A user changing its
// own password must give the old one; a superuser passes old as "".
func (c *apiClient) changePassword(ctx context.Context, collection, id, old, password string) error {
	body := map[string]string{"password": password, "passwordConfirm": password}
	if old != "" {
		body["oldPassword"] = old
	}
	in, _ := json.Marshal(body)
	return c.do(ctx, http.MethodPatch, recordsPath(collection)+"/"+url.PathEscape(id), in, nil)
}
