package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/search"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
	"github.com/tortoise-dev/tortoise/store/sqlite"
)

// BenchmarkSearch measures full-text search on each engine over a
// generated corpus (10k records; TORTOISE_BENCH_SEARCH_RECORDS=100000,1000000
// for the sizes):
//
//	go test -run '^$' -bench Search -benchtime 200x ./bench
//
// Per engine and size, at the store (what records.List calls, without
// HTTP): search/1word and search/2words are a page of 20 with the total
// and highlights, ranked; filter/1word is the same word as PocketBase
// users find it today, title ~ 'w' || body ~ 'w' (LIKE/ILIKE '%w%', a
// scan), with its total; raw/1word is the floor, the engine's own query
// straight on the database (count, then the page's ids by rank). Each
// reports p50 and p99 in µs. build is one rebuild of the index over the
// corpus (search option off, then on, until the online fill is done:
// ns/op is the build; writes could go on meanwhile). create/plain
// and create/search insert records one per Update from 16 goroutines
// into collections without and with a search option (creates/s).
//
// Queries rotate over words of the Zipf-distributed vocabulary at
// several ranks (common to rare), so one run mixes large and small
// result sets.
func BenchmarkSearch(b *testing.B) {
	sizes := []int{10000}
	if v := os.Getenv("TORTOISE_BENCH_SEARCH_RECORDS"); v != "" {
		sizes = nil
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				b.Fatalf("TORTOISE_BENCH_SEARCH_RECORDS: %q is not a record count", s)
			}
			sizes = append(sizes, n)
		}
	}
	for _, e := range benchEngines {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/%d", e.name, n), func(b *testing.B) { benchSearchCorpus(b, e, n) })
		}
	}
}

// searchVocab is the corpus's vocabulary, most frequent first: the word
// list, its inflections, then compounds, so rare words are rare.
var searchVocab = func() []string {
	var v []string
	for _, suffix := range []string{"", "s", "ing", "ed", "er", "ly", "ness", "able"} {
		for _, w := range words {
			v = append(v, w+suffix)
		}
	}
	for i, a := range words {
		for j, c := range words {
			if (i+j)%7 == 0 && i != j {
				v = append(v, a+c)
			}
		}
	}
	return v
}()

// searchText returns n words drawn from the vocabulary by a Zipf law.
func searchText(z *rand.Zipf, n int) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(searchVocab[z.Uint64()])
	}
	return sb.String()
}

func searchCollection(name string, searchable bool) *core.Collection {
	now := core.Now()
	c := &core.Collection{ID: "pbc_" + core.RandomString(10, "0123456789"), Name: name, Type: core.TypeBase,
		Fields: []core.Field{core.IDField(),
			{ID: "text_title", Name: "title", Type: core.FieldText},
			{ID: "text_body", Name: "body", Type: core.FieldText},
			{ID: "number_n", Name: "n", Type: core.FieldNumber}},
		Indexes: []string{}, Created: now, Updated: now}
	if searchable {
		c.Search = &core.SearchOptions{Fields: []core.SearchField{{Name: "title", Weight: 3}, {Name: "body"}}}
	}
	return c
}

func benchSearchCorpus(b *testing.B, e benchEngine, n int) {
	ctx := context.Background()
	st := benchStore(b, e)
	c := searchCollection("docs", true)
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(rng, 1.07, 2, uint64(len(searchVocab)-1))
	for done := 0; done < n; {
		batch := min(2000, n-done)
		err := st.Update(ctx, func(tx store.Tx) error {
			rows := make([][]any, batch)
			for i := range batch {
				rows[i] = []any{fmt.Sprintf("r%014d", done+i), searchText(z, 3+rng.IntN(4)),
					searchText(z, 20+rng.IntN(60)), float64(done + i)}
			}
			if p, ok := tx.(interface{ PgxTx() pgx.Tx }); ok {
				// One COPY per batch on PostgreSQL: the search trigger
				// still indexes every row, but the row counter's statement
				// trigger runs once rather than once per row, which in a
				// transaction of thousands of inserts costs milliseconds
				// each (every update of the shard row walks the versions
				// the transaction made before it).
				_, err := p.PgxTx().CopyFrom(ctx, pgx.Identifier{c.Name}, []string{"id", "title", "body", "n"},
					pgx.CopyFromRows(rows))
				return err
			}
			for _, row := range rows {
				r := core.NewRecord(c)
				r.Data["id"], r.Data["title"], r.Data["body"], r.Data["n"] = row[0], row[1], row[2], row[3]
				if err := tx.Insert(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done += batch
	}
	// Words at ranks from common to rare, and pairs of them.
	var one []string
	for _, rank := range []int{3, 20, 80, 300, 900} {
		one = append(one, searchVocab[min(rank, len(searchVocab)-1)])
	}
	two := make([]string, len(one))
	for i := range one {
		two[i] = one[i] + " " + one[(i+2)%len(one)]
	}
	all := []string{"title", "body"}

	find := func(text string, fuzzy bool) func() error {
		q, err := search.Parse(text + " ") // whole words, not search-as-you-type
		if err != nil {
			b.Fatal(err)
		}
		return func() error {
			_, err := st.Find(ctx, store.Query{Collection: c, Limit: 20, WithTotal: true, Search: &store.SearchQuery{
				Query: q, Columns: all, Highlights: true, Marks: [2]string{search.MarkStart, search.MarkEnd}, Fuzzy: fuzzy}})
			return err
		}
	}
	op := "LIKE"
	if e.name == "postgres" {
		op = "ILIKE"
	}
	filter := func(w string) func() error {
		where := &store.SQL{Text: `"_r"."title" ` + op + ` ? OR "_r"."body" ` + op + ` ?`, Args: []any{"%" + w + "%", "%" + w + "%"}}
		return func() error {
			_, err := st.Find(ctx, store.Query{Collection: c, Where: where, Limit: 20, WithTotal: true,
				OrderBy: `"_r"."n" DESC`})
			return err
		}
	}
	raw := rawSearch(b, st, c)

	latencies := func(b *testing.B, ops []func() error) {
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if err := ops[i%len(ops)](); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-µs")
	}
	var ops1, ops2, opsT, opsF, opsR []func() error
	for _, w := range one {
		ops1 = append(ops1, find(w, false))
		opsT = append(opsT, find(typo(w), true))
		opsF = append(opsF, filter(w))
		opsR = append(opsR, raw(w))
	}
	for _, w := range two {
		ops2 = append(ops2, find(w, false))
	}
	b.Run("search/1word", func(b *testing.B) { latencies(b, ops1) })
	b.Run("search/2words", func(b *testing.B) { latencies(b, ops2) })
	b.Run("search/1typo", func(b *testing.B) { latencies(b, opsT) })
	b.Run("filter/1word", func(b *testing.B) { latencies(b, opsF) })
	b.Run("raw/1word", func(b *testing.B) { latencies(b, opsR) })
	b.Run("build", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			off := c.Clone()
			off.Search = nil
			if err := st.Update(ctx, func(tx store.Tx) error { return tx.UpdateCollection(ctx, c, off) }); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := st.Update(ctx, func(tx store.Tx) error { return tx.UpdateCollection(ctx, off, c) }); err != nil {
				b.Fatal(err)
			}
			// Past 1000 rows the index fills online, after the change
			// commits: the build ends when its fill record is gone.
			for {
				_, err := st.Param(ctx, "search_fill:"+c.ID)
				if core.KindOf(err) == core.KindNotFound {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
	})
	for _, searchable := range []bool{false, true} {
		name := "create/plain"
		if searchable {
			name = "create/search"
		}
		b.Run(name, func(b *testing.B) {
			cc := searchCollection(fmt.Sprintf("w%d", time.Now().UnixNano()), searchable)
			if err := st.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, cc) }); err != nil {
				b.Fatal(err)
			}
			var seq atomic.Int64
			b.SetParallelism(max(1, benchEnqueuers/runtime.GOMAXPROCS(0)))
			t0 := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				lrng := rand.New(rand.NewPCG(uint64(seq.Add(1)), 7))
				lz := rand.NewZipf(lrng, 1.07, 2, uint64(len(searchVocab)-1))
				for pb.Next() {
					i := seq.Add(1)
					r := core.NewRecord(cc)
					r.Data["id"] = fmt.Sprintf("c%014d", i)
					r.Data["title"] = searchText(lz, 5)
					r.Data["body"] = searchText(lz, 50)
					if err := st.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, r) }); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "creates/s")
		})
	}
}

// rawSearch returns the floor: the engine's own full-text query for a
// word, straight on the database (a count, then the first page's ids by
// rank), with nothing of Tortoise's around it.
func rawSearch(b *testing.B, st store.Store, c *core.Collection) func(w string) func() error {
	ctx := context.Background()
	switch s := st.(type) {
	case *sqlite.Store:
		db, err := s.OpenSQL()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		fts := `"_search_` + c.ID + `"`
		return func(w string) func() error {
			return func() error {
				var n int
				if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+fts+" WHERE "+fts+" MATCH ?", w).Scan(&n); err != nil {
					return err
				}
				return drain(db.QueryContext(ctx, "SELECT rowid FROM "+fts+" WHERE "+fts+" MATCH ? ORDER BY bm25("+fts+", 3, 1) LIMIT 20", w))
			}
		}
	case *postgres.Store:
		pool := s.Pool()
		return func(w string) func() error {
			return func() error {
				var n int
				q := "to_tsquery('simple', $1)"
				if err := pool.QueryRow(ctx, "SELECT COUNT(*) FROM docs WHERE _search @@ "+q, w).Scan(&n); err != nil {
					return err
				}
				rows, err := pool.Query(ctx, "SELECT id FROM docs WHERE _search @@ "+q+" ORDER BY ts_rank_cd('{0.1,0.2,0.333,1}', _search, "+q+") DESC LIMIT 20", w)
				if err != nil {
					return err
				}
				for rows.Next() {
				}
				rows.Close()
				return rows.Err()
			}
		}
	}
	b.Fatalf("no raw search for %T", st)
	return nil
}

func drain(rows *sql.Rows, err error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// typo is w with its second letter doubled: one edit away, as a search
// after the exact form found nothing asks for it (records.findSearch).
func typo(w string) string {
	if len(w) < 2 {
		return w
	}
	return w[:2] + w[1:]
}
