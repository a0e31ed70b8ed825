package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// Bounds of the SQL console.
const (
	sqlMaxRows   = 1000    // rows answered; more are reported as truncated
	sqlMaxLength = 100_000 // bytes of SQL text
)

// sqlAnswer is PocketBase's SQL API answer (what the SDKs' sql.run
// returns), with Tortoise's truncated beside it.
type sqlAnswer struct {
	ExecTime     float64               `json:"execTime"` // milliseconds
	AffectedRows int64                 `json:"affectedRows"`
	Columns      []store.ConsoleColumn `json:"columns"`
	Rows         [][]any               `json:"rows"`
	Truncated    bool                  `json:"truncated"`
}

// runSQL is the superuser SQL console, POST /api/sql: {"query": "SELECT
// …"} (as the SDKs' sql.run sends it; "sql" is read too) runs one
// statement on the database and answers with the columns and the rows,
// every value as text or null, at most sqlMaxRows of them (truncated says
// there were more), within the store's read timeout (503 past it).
//
// Unlike PocketBase's, Tortoise's console is read-only: the engine itself
// refuses writes (see store.SQLConsole), so a statement that would change
// anything is a 400 and changes nothing, and affectedRows is always 0. It
// is for superusers logged in with their account: it reads the system
// tables (API key hashes, token keys) that API keys are kept from.
func (s *Server) runSQL(w http.ResponseWriter, r *http.Request, req *service.Request) error {
	if req.Key != nil {
		return core.Forbidden("The SQL console is for superusers logged in with their account: it reads the system tables API keys are kept from.")
	}
	var in struct {
		Query string `json:"query"`
		SQL   string `json:"sql"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	text := in.Query
	if text == "" {
		text = in.SQL
	}
	switch {
	case strings.TrimSpace(text) == "":
		return core.FieldInvalid("query", "validation_required", "Type an SQL statement.")
	case len(text) > sqlMaxLength:
		return core.FieldInvalid("query", "validation_max_text_constraint", "The statement is too long (at most 100,000 bytes).")
	}
	console, ok := s.svc.Store().(store.SQLConsole)
	if !ok {
		return core.Errorf(core.KindUnavailable, "This store has no SQL console.")
	}
	start := time.Now()
	res, err := console.ConsoleQuery(r.Context(), text, sqlMaxRows)
	if err != nil {
		return err
	}
	took := float64(time.Since(start).Microseconds()) / 1000
	writeJSON(w, http.StatusOK, sqlAnswer{ExecTime: took, Columns: res.Columns, Rows: res.Rows, Truncated: res.Truncated})
	return nil
}
