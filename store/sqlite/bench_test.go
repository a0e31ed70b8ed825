package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/sqlite"
)

// benchCollection is a typical small collection: a few texts, a number,
// a bool, a list, with an index on n.
func benchCollection() *core.Collection {
	return &core.Collection{ID: "bench", Name: "posts", Type: core.TypeBase,
		Fields: []core.Field{
			{ID: "f0", Name: "id", Type: core.FieldText, PrimaryKey: true},
			{ID: "f1", Name: "title", Type: core.FieldText},
			{ID: "f2", Name: "body", Type: core.FieldEditor},
			{ID: "f3", Name: "n", Type: core.FieldNumber},
			{ID: "f4", Name: "published", Type: core.FieldBool},
			{ID: "f5", Name: "tags", Type: core.FieldSelect, MaxSelect: 5, Values: []string{"a", "b", "c"}},
			{ID: "f6", Name: "created", Type: core.FieldAutodate},
		},
		Indexes: []string{"CREATE INDEX idx_posts_n ON posts (n)"},
	}
}

func benchRecord(c *core.Collection, i int) *core.Record {
	r := core.NewRecord(c)
	r.Data["id"] = fmt.Sprintf("r%014d", i)
	r.Data["title"] = fmt.Sprintf("Post number %d", i)
	r.Data["body"] = "<p>Some body text that is not too short, not too long.</p>"
	r.Data["n"] = float64(i % 1000)
	r.Data["published"] = i%2 == 0
	r.Data["tags"] = []string{"a", "b"}
	r.Data["created"] = core.Now()
	return r
}

// benchStore opens a store holding rows records of benchCollection.
func benchStore(b *testing.B, rows int) (*sqlite.Store, *core.Collection) {
	b.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	c := benchCollection()
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		b.Fatal(err)
	}
	for start := 0; start < rows; start += 1000 {
		err := s.Update(ctx, func(tx store.Tx) error {
			for i := start; i < min(start+1000, rows); i++ {
				if err := tx.Insert(ctx, benchRecord(c, i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s, c
}

// BenchmarkInsert measures one Update call inserting one record, each
// durable (fsynced) when it returns. "serial" pays one commit per call;
// "parallel" shows group commit sharing commits among concurrent callers.
func BenchmarkInsert(b *testing.B) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		s, c := benchStore(b, 0)
		b.ResetTimer()
		for i := range b.N {
			if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, benchRecord(c, i)) }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s, c := benchStore(b, 0)
		var next atomic.Int64
		before := s.Stats()
		b.SetParallelism(32) // many concurrent requests, as behind an HTTP server
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1))
				if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, benchRecord(c, i)) }); err != nil {
					b.Error(err)
					return
				}
			}
		})
		st := s.Stats()
		b.ReportMetric(float64(st.Calls-before.Calls)/float64(max(1, st.Groups-before.Groups)), "calls/commit")
	})
}

// BenchmarkGet reads records by id from a 10,000-row collection.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	const rows = 10_000
	s, c := benchStore(b, rows)
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(7919)) % rows
			if _, err := s.Get(ctx, c, fmt.Sprintf("r%014d", i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFindWithTotal lists a 30-record page with its total from a
// 100,000-row collection: unfiltered (the total from the in-memory count)
// filtered on an indexed column (COUNT(*) over a tenth of the index), and
// filtered but matching every row (what a COUNT(*) total would cost).
func BenchmarkFindWithTotal(b *testing.B) {
	ctx := context.Background()
	const rows = 100_000
	s, c := benchStore(b, rows)
	for _, bc := range []struct {
		name  string
		q     store.Query
		total int
	}{
		{"unfiltered", store.Query{Collection: c, OrderBy: `"_r"."rowid" DESC`, Limit: 30, WithTotal: true}, rows},
		{"filtered", store.Query{Collection: c, Where: &store.SQL{Text: `"_r"."n" < ?`, Args: []any{100}},
			OrderBy: `"_r"."n"`, Limit: 30, Offset: 30, WithTotal: true}, rows / 10},
		// What every unfiltered total would cost without the in-memory count.
		{"matching-all", store.Query{Collection: c, Where: &store.SQL{Text: `"_r"."n" >= ?`, Args: []any{0}},
			OrderBy: `"_r"."rowid" DESC`, Limit: 30, WithTotal: true}, rows},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := s.Find(ctx, bc.q)
					if err != nil || res.Total != bc.total || len(res.Records) != 30 {
						b.Errorf("total %v, err %v", res, err)
						return
					}
				}
			})
		})
	}
}
