package api

import (
	"net/http"
	"strings"
	"sync"
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

// errCostlyReadsBusy refuses a costly read when the slots all clients
// share are taken for longer than a client waits.
var errCostlyReadsBusy = &core.Error{Kind: core.KindUnavailable,
	Message: "Too many list requests with a filter or sort are in progress; retry shortly."}

// costlyReadSlots is how many costly reads may run at once, all clients
// together, over conns read connections: a quarter of the connections
// (at least one) stays for plain reads. Without it, two addresses (an
// IPv4 and an IPv6 /64 of one attacker), each at its cap of two slow
// filters, held all four connections of a small server, and every read
// of every client waited for them. 0 for no cap (conns unknown).
func costlyReadSlots(conns int) int {
	if conns <= 0 {
		return 0
	}
	return max(1, conns-max(1, conns/4))
}

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
	leave, ok := s.limiter.InFlight().Enter(r.Context(), guard.IPKey(filteredReads, ip))
	if !ok {
		return nil, errTooManyFilteredReads
	}
	perClient, wait := s.limiter.InFlight().Limit()
	if s.costly == nil || perClient < 0 { // TORTOISE_MAX_FILTERED_READS=-1 lifts both caps
		return leave, nil
	}
	select {
	case s.costly <- struct{}{}:
	default:
		t := time.NewTimer(max(wait, 0))
		defer t.Stop()
		select {
		case s.costly <- struct{}{}:
		case <-t.C:
			leave()
			return nil, errCostlyReadsBusy
		case <-r.Context().Done():
			leave()
			return nil, r.Context().Err()
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-s.costly
			leave()
		})
	}, nil
}
