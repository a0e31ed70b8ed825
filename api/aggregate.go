package api

import (
	"net/http"
	"strconv"

	"github.com/tortoise-dev/tortoise/internal/jsonw"
	"github.com/tortoise-dev/tortoise/records"
)

// aggregateRecords is GET /api/collections/{collection}/aggregate:
// counts, sums, averages, minimums and maximums of the records the caller
// may list, grouped by up to three fields, in the list's page shape:
//
//	?groupBy=status,created:month&sum=amount&avg=amount&max=created
//	  &filter=amount>0&sort=-count,status&page=1&perPage=30&skipTotal=1
//
// answers {"page":1,"perPage":30,"totalItems":N,"totalPages":M,"items":
// [{"status":"paid","created":"2026-03","count":12,"sum_amount":340.5,
// …}]}, totalItems counting groups. PocketBase has no such route; the
// SDKs reach it with pb.send. See records.Service.Aggregate for the rules
// and the checks.
func (s *Server) aggregateRecords(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return err
	}
	req := s.recordRequest(r, c)
	// Every aggregation a non-superuser asks for counts against the cap on
	// filtered reads, filter or not: grouping reads each record the
	// filter admits, so even an unfiltered one costs what a filtered list
	// does.
	release, err := s.enterCostlyRead(r, req)
	if err != nil {
		return err
	}
	defer release()
	q := req.Query
	var p records.AggregateParams
	if p.Page, p.PerPage, err = pageParams(q, records.DefaultPerPage); err != nil {
		return err
	}
	p.GroupBy, p.Count, p.Sum, p.Avg, p.Min, p.Max = q["groupBy"], q["count"], q["sum"], q["avg"], q["min"], q["max"]
	p.Filter, p.Sort, p.SkipTotal = q["filter"], q["sort"], boolParam(q, "skipTotal")
	res, err := s.records.Aggregate(r.Context(), req, c, p)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 128+len(res.Items)*32*len(res.Keys))
	b = append(b, `{"page":`...)
	b = strconv.AppendInt(b, int64(res.Page), 10)
	b = append(b, `,"perPage":`...)
	b = strconv.AppendInt(b, int64(res.PerPage), 10)
	b = append(b, `,"totalItems":`...)
	b = strconv.AppendInt(b, int64(res.TotalItems), 10)
	b = append(b, `,"totalPages":`...)
	b = strconv.AppendInt(b, int64(res.TotalPages), 10)
	b = append(b, `,"items":[`...)
	for i, item := range res.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		for j, k := range res.Keys {
			if j > 0 {
				b = append(b, ',')
			}
			b = jsonw.String(b, k)
			b = append(b, ':')
			if n, ok := item[k].(int64); ok {
				b = strconv.AppendInt(b, n, 10)
			} else {
				b = appendValue(b, item[k], nil)
			}
		}
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	writeRaw(w, http.StatusOK, b)
	return nil
}
