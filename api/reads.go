package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/guard"
	"github.com/tortoise-dev/tortoise/service"
)

// filteredReads labels the cap on list requests carrying a filter or sort.
const filteredReads = "filteredRead"

// errTooManyFilteredReads refuses a list request over the cap; the client
// retries after a second, about when one of its requests should be done.
var errTooManyFilteredReads = core.TooMany(time.Second,
	"Too many list requests with a filter or sort in progress from your address; retry when one has finished.")

// SetMaxFilteredReads sets how many list requests carrying a filter or
// sort one client address may have in progress at once (0:
// guard.DefaultMaxInFlight, below 0: no cap). One over the cap waits up to
// guard.DefaultInFlightWait for a slot, then gets 429. Call it before
// serving.
func (s *Server) SetMaxFilteredReads(n int) {
	s.limiter.InFlight().SetLimit(n, guard.DefaultInFlightWait)
}

// enterFilteredRead admits a list request under the cap on filtered reads
// per client address, or returns a KindTooMany error (429). A client's
// filter, sort, full-text search or back-relation expand may cost each request up to the store's read timeout of
// a database connection, well within any sane request rate, so it is the
// requests in progress that are capped. Requests without either, and
// superusers', are not limited. The client address honours the trusted
// proxies of the settings: behind a proxy that is not trusted, every
// client shares the proxy's allowance. Call release when done.
func (s *Server) enterFilteredRead(r *http.Request, req *service.Request) (release func(), err error) {
	if strings.TrimSpace(req.Query["filter"]) == "" && strings.TrimSpace(req.Query["sort"]) == "" &&
		strings.TrimSpace(req.Query["search"]) == "" && !expandsBack(req) {
		return func() {}, nil
	}
	return s.enterCostlyRead(r, req)
}

// expandsBack reports whether req expands a back-relation (x_via_y): a
// query by the relation's value over the other collection, which, without
// an index on it, reads that collection whole, each level up to the read
// timeout.
func expandsBack(req *service.Request) bool {
	return strings.Contains(req.Query["expand"], "_via_")
}

// enterCostlyRead admits any read under the cap on filtered reads per
// client address (see enterFilteredRead); superusers are not limited.
func (s *Server) enterCostlyRead(r *http.Request, req *service.Request) (release func(), err error) {
	if req.Superuser {
		return func() {}, nil
	}
	ip, err := s.clientIP(r)
	if err != nil {
		return nil, err
	}
	release, ok := s.limiter.InFlight().Enter(r.Context(), guard.IPKey(filteredReads, ip))
	if !ok {
		return nil, errTooManyFilteredReads
	}
	return release, nil
}
