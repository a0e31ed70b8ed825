package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/guard"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/settings"
)

// batchItem is one request of a batch as the client sends it.
type batchItem struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    map[string]any    `json:"body"`
}

// batchResult is one item's answer.
type batchResult struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// batch answers POST /api/batch: record creates, updates, upserts and
// deletes run in one transaction, all or nothing, each under the rules
// that would apply to it sent alone (the caller is the batch's, or the
// item's own Authorization header).
func (s *Server) batch(w http.ResponseWriter, r *http.Request) error {
	limits, err := s.batchLimits(r.Context())
	if err != nil {
		return err
	}
	if !limits.Enabled {
		return core.Forbidden("Batch requests are not allowed.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, limits.BodyLimit())
	items, err := decodeBatch(r)
	var bad *badBatchItem
	if errors.As(err, &bad) {
		return s.batchFailed(r, bad.index, bad.err)
	}
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return core.FieldInvalid("requests", "validation_required", "Give at least one request.")
	}
	if len(items) > limits.MaxRequests {
		return core.FieldInvalid("requests", "validation_too_many",
			fmt.Sprintf("A batch may hold at most %d requests; this one has %d.", limits.MaxRequests, len(items)))
	}
	ctx := r.Context()
	if timeout := limits.TimeoutDuration(); timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ops := make([]records.BatchOp, len(items))
	queries := make([]url.Values, len(items))
	var costly *service.Request // the caller of an item that expands back
	for i, it := range items {
		op, q, err := s.batchOp(r, it)
		if err != nil {
			return s.batchFailed(r, i, err)
		}
		if op.Action != records.BatchDelete {
			if err := s.records.CheckExpand(op.Req, op.Collection, q.Get("expand")); err != nil {
				return s.batchFailed(r, i, err)
			}
		}
		if strings.Contains(q.Get("expand"), "_via_") && (costly == nil || costly.Superuser) {
			costly = op.Req
		}
		ops[i], queries[i] = op, q
	}
	// The items' expands are one read: one costly-read slot (unless every
	// item that expands back is a superuser's), admitted before anything
	// is written, and one budget of time and records.
	if costly != nil {
		release, err := s.enterCostlyRead(r, costly)
		if err != nil {
			return err
		}
		defer release()
	}
	recs, err := s.records.Batch(ctx, ops)
	if err != nil {
		var be *records.BatchError
		if errors.As(err, &be) {
			if errors.Is(be.Err, context.DeadlineExceeded) {
				be.Err = core.Invalid("The batch took longer than its %s limit.", limits.TimeoutDuration())
			}
			return s.batchFailed(r, be.Index, be.Err)
		}
		return err
	}
	r, done := s.readBudget(r)
	defer done()
	left := records.MaxExpandedRecords
	out := make([]batchResult, len(items))
	for i, rec := range recs {
		if rec == nil {
			out[i] = batchResult{Status: http.StatusNoContent, Body: json.RawMessage("null")}
			continue
		}
		q := queries[i]
		sel, err := parseFields(q.Get("fields"))
		if err != nil {
			return err // checked in batchOp
		}
		req := ops[i].Req
		s.expandWritten(r.Context(), req, []*core.Record{rec}, q.Get("expand"), &left)
		out[i] = batchResult{Status: http.StatusOK, Body: appendRecord(make([]byte, 0, 512), rec, viewerOf(req), sel)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// batchLimits reads the settings' batch section.
func (s *Server) batchLimits(ctx context.Context) (settings.BatchSettings, error) {
	return s.settings.Batch(ctx)
}

// batchFailed answers a batch whose item i failed with err, in
// PocketBase's shape: a 400 naming the item, with the answer the item
// would have had alone.
func (s *Server) batchFailed(r *http.Request, i int, err error) error {
	_, body, _ := s.errorAnswer(r, err)
	resp, _ := json.Marshal(body)
	return &batchError{index: i, response: resp}
}

// batchError is a failed batch; the error table answers it as a 400.
type batchError struct {
	index    int
	response json.RawMessage
}

func (e *batchError) Error() string { return fmt.Sprintf("batch request %d failed", e.index) }

// decodeBatch reads {"requests": [...]} from a JSON body or a multipart
// form's @jsonPayload part.
func decodeBatch(r *http.Request) ([]batchItem, error) {
	var raw []byte
	var files map[string][]*multipart.FileHeader
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		form, err := parseMultipart(r)
		if err != nil {
			return nil, err
		}
		if p := form.Value["@jsonPayload"]; len(p) > 0 {
			raw = []byte(p[0])
		}
		files = form.File
	} else {
		var err error
		if raw, err = readBody(r); err != nil {
			return nil, err
		}
	}
	var in struct {
		Requests []batchItem `json:"requests"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		if numberOutOfRange(err) {
			if bad := itemOutOfRange(raw); bad != nil {
				return nil, bad
			}
		}
		return nil, core.FieldInvalid("requests", "validation_invalid_json", "The batch is not a JSON object with a requests list.")
	}
	for key, fhs := range files {
		i, field, ok := batchFileKey(key)
		if !ok || i >= len(in.Requests) {
			return nil, core.FieldInvalid(key, "validation_file_upload",
				`A file part of a batch is named "requests.N.FIELD" (or "requests[N].FIELD") after the request it belongs to.`)
		}
		if in.Requests[i].Body == nil {
			in.Requests[i].Body = map[string]any{}
		}
		records.AddUploads(in.Requests[i].Body, field, fhs)
	}
	return in.Requests, nil
}

// badBatchItem is a batch item whose body the request alone would have
// refused before reaching the records.
type badBatchItem struct {
	index int
	err   error
}

func (e *badBatchItem) Error() string { return fmt.Sprintf("batch request %d: %v", e.index, e.err) }

// itemOutOfRange finds the item of the batch raw whose body holds a number
// beyond a float64's range (which decoding reports without saying where),
// with the error that body alone gets, or nil.
func itemOutOfRange(raw []byte) *badBatchItem {
	var in struct {
		Requests []struct {
			Body json.RawMessage `json:"body"`
		} `json:"requests"`
	}
	if json.Unmarshal(raw, &in) != nil {
		return nil
	}
	for i, it := range in.Requests {
		if len(it.Body) > 0 && !core.JSONNumbersFit(it.Body) {
			if _, err := decodeJSONObject(it.Body); err != nil {
				return &badBatchItem{index: i, err: err}
			}
		}
	}
	return nil
}

// batchFileKey reads the name of a batch's file part: "requests.N.FIELD"
// or "requests[N].FIELD" (FIELD may carry a modifier, "docs+").
func batchFileKey(key string) (int, string, bool) {
	var idx, field string
	switch {
	case strings.HasPrefix(key, "requests."):
		idx, field, _ = strings.Cut(strings.TrimPrefix(key, "requests."), ".")
	case strings.HasPrefix(key, "requests["):
		var ok bool
		idx, field, ok = strings.Cut(strings.TrimPrefix(key, "requests["), "].")
		if !ok {
			return 0, "", false
		}
	default:
		return 0, "", false
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || field == "" {
		return 0, "", false
	}
	return i, field, true
}

// batchOp reads one item into a records operation and the query of its
// URL (expand, fields), checking what the single request would check
// before reaching the records.
func (s *Server) batchOp(r *http.Request, it batchItem) (records.BatchOp, url.Values, error) {
	u, err := url.Parse(it.URL)
	if err != nil {
		return records.BatchOp{}, nil, core.Invalid("Malformed request URL.")
	}
	rest, ok := strings.CutPrefix(u.Path, "/api/collections/")
	if !ok {
		return records.BatchOp{}, nil, core.Invalid("A batch may only create, update, upsert and delete records.")
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || parts[1] != "records" || len(parts) > 3 {
		return records.BatchOp{}, nil, core.Invalid("A batch may only create, update, upsert and delete records.")
	}
	op := records.BatchOp{Body: it.Body}
	if op.Body == nil {
		op.Body = map[string]any{}
	}
	method := strings.ToUpper(it.Method)
	switch {
	case method == http.MethodPost && len(parts) == 2:
		op.Action = records.BatchCreate
	case method == http.MethodPut && len(parts) == 2:
		op.Action = records.BatchUpsert
	case method == http.MethodPatch && len(parts) == 3 && parts[2] != "":
		op.Action, op.ID = records.BatchUpdate, parts[2]
	case method == http.MethodDelete && len(parts) == 3 && parts[2] != "":
		op.Action, op.ID = records.BatchDelete, parts[2]
	default:
		return records.BatchOp{}, nil, core.Invalid("Unsupported batch request %s %s.", method, u.Path)
	}
	c, err := s.svc.Collection(parts[0])
	if err != nil {
		return records.BatchOp{}, nil, err
	}
	// The item as a request of its own: the batch's headers, with the
	// item's over them, so its caller and @request.headers are its own.
	// Its path is the one it was routed by here (decoded: "posts%2Frecords"
	// reads as "posts/records", which the server's router would not
	// take), so that the rate limit rules meet what is done.
	canonical := *u
	canonical.Path, canonical.RawPath = "/api/collections/"+c.Name+"/records", ""
	if op.ID != "" {
		canonical.Path += "/" + op.ID
	}
	sub := r.Clone(r.Context())
	sub.Method, sub.URL = method, &canonical
	own := false
	if len(it.Headers) > 0 {
		sub.Header = r.Header.Clone()
		for k, v := range it.Headers {
			sub.Header.Set(k, v)
		}
		if own = sub.Header.Get("Authorization") != r.Header.Get("Authorization"); own {
			// The caller admit may have identified is the batch's, not
			// this item's: forget it.
			sub = sub.WithContext(context.WithValue(sub.Context(), callerKey{}, nil))
		}
	}
	op.Collection, op.Req = c, s.recordRequest(sub, c)
	op.Req.Method = method
	if own && op.Req.Superuser {
		// As admit checks the batch's own caller: a superuser item is
		// refused from outside superuserIPs (the batch's address, not
		// one its item headers claim).
		p, err := s.policy(r.Context())
		if err != nil {
			return records.BatchOp{}, nil, err
		}
		if !p.superuserAllowed(p.clientIP(r)) {
			return records.BatchOp{}, nil, errSuperuserAddress
		}
	}
	if err := s.limitBatchItem(r, sub, op.Req); err != nil {
		return records.BatchOp{}, nil, err
	}
	if _, err := parseFields(u.Query().Get("fields")); err != nil {
		return records.BatchOp{}, nil, err
	}
	if op.Action != records.BatchDelete && c.IsAuth() && !op.Req.Superuser && (op.Action == records.BatchCreate || op.Action == records.BatchUpsert) {
		// Sign-ups in a batch are throttled as they are alone.
		email, _ := op.Body["email"].(string)
		if _, err := s.throttle(r, guard.LabelSignup, c.ID, email); err != nil {
			return records.BatchOp{}, nil, err
		}
	}
	return op, u.Query(), nil
}

// batchFailedBody is PocketBase's answer to a failed batch.
type batchFailedBody struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
	Data    struct {
		Requests map[string]batchItemError `json:"requests"`
	} `json:"data"`
}

type batchItemError struct {
	Code     string          `json:"code"`
	Message  string          `json:"message"`
	Response json.RawMessage `json:"response"`
}

func (e *batchError) body() batchFailedBody {
	b := batchFailedBody{Status: http.StatusBadRequest, Message: "Batch transaction failed."}
	b.Data.Requests = map[string]batchItemError{strconv.Itoa(e.index): {
		Code: "batch_request_failed", Message: "Batch request failed.", Response: e.response,
	}}
	return b
}
