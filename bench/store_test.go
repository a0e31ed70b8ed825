package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// BenchmarkLongTransaction measures inserts of one record each, n to a
// transaction (one store.Update), on both engines: what an import or a
// large batch does. One op is one transaction; it reports inserts/s,
// which should not fall as n grows (on PostgreSQL it did, by the
// collection's row counter: docs/benchmarks.md).
func BenchmarkLongTransaction(b *testing.B) {
	for _, e := range benchEngines {
		for _, n := range []int{1, 100, 1000, 4000} {
			b.Run(fmt.Sprintf("%s/n=%d", e.name, n), func(b *testing.B) {
				ctx := context.Background()
				st := benchStore(b, e)
				c := &core.Collection{ID: "c1", Name: "items", Type: core.TypeBase, Fields: []core.Field{
					{ID: "f0", Name: "id", Type: core.FieldText, PrimaryKey: true},
					{ID: "f1", Name: "title", Type: core.FieldText},
				}}
				if err := st.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
					b.Fatal(err)
				}
				next := 0
				for b.Loop() {
					err := st.Update(ctx, func(tx store.Tx) error {
						for range n {
							next++
							r := core.NewRecord(c)
							r.Data["id"] = fmt.Sprintf("r%014d", next)
							r.Data["title"] = "Record"
							if err := tx.Insert(ctx, r); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "inserts/s")
			})
		}
	}
}
