package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/internal/testkit"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/store/postgres"
	"github.com/tortoise-dev/tortoise/store/sqlite"
)

// The benchmarks below run on SQLite in a temp dir and, when
// TORTOISE_TEST_POSTGRES is set, on a fresh PostgreSQL database (else
// that half skips with a message):
//
//	go test -run '^$' -bench 'JobThroughput|EnqueueTx' -benchtime 3x ./bench
//
// One iteration of BenchmarkJobThroughput is a batch of benchBatch jobs,
// so -benchtime counts batches (1x is a smoke run).

const (
	// benchBatch is the jobs enqueued, then waited for, per iteration.
	benchBatch = 10000
	// benchEnqueuers is how many goroutines enqueue at once, as the
	// requests of a busy app would.
	benchEnqueuers = 16
)

// benchEngine is an engine and how jobs/river.go's newBackend tunes River
// for it when Config.PollInterval is left zero (FetchCooldown,
// FetchPollInterval). Keep these in step with newBackend, or the bare
// River baseline stops being the same queue.
type benchEngine struct {
	name           string
	cooldown, poll time.Duration
}

var benchEngines = []benchEngine{
	{name: "sqlite", cooldown: 5 * time.Millisecond, poll: 250 * time.Millisecond},
	{name: "postgres", cooldown: time.Millisecond, poll: time.Second},
}

// benchLog keeps River's and the queue's warnings, as Tortoise's log does.
var benchLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// benchStore opens a fresh, empty store on e, closed when b ends.
func benchStore(b *testing.B, e benchEngine) store.Store {
	b.Helper()
	ctx := context.Background()
	var st store.Store
	var err error
	// Reads are measured however long they take: the store's default
	// read timeout (store.DefaultReadTimeout) would stop the slowest
	// (a LIKE filter over a million records) before they finish.
	const readTimeout = 10 * time.Minute
	switch e.name {
	case "sqlite":
		st, err = sqlite.Open(ctx, filepath.Join(b.TempDir(), "data.db"), sqlite.WithReadTimeout(readTimeout))
	case "postgres":
		// skips without TORTOISE_TEST_POSTGRES
		st, err = postgres.Open(ctx, testkit.PostgresDatabase(b), postgres.WithReadTimeout(readTimeout))
	default:
		b.Fatalf("unknown engine %q", e.name)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// doneCounter counts handler runs and signals when the count reaches
// the end of the current batch.
type doneCounter struct {
	n    atomic.Int64
	want atomic.Int64
	done chan struct{}
}

func newDoneCounter() *doneCounter { return &doneCounter{done: make(chan struct{}, 1)} }

func (c *doneCounter) inc() {
	if c.n.Add(1) == c.want.Load() {
		c.done <- struct{}{}
	}
}

// benchArgs are the args of every benchmark job, through our layer (as
// JSON) and through bare River (as its typed args).
type benchArgs struct {
	N int `json:"n"`
}

func (benchArgs) Kind() string { return "bench_bare" }

// bareWorker is the bare River worker: it does what the jobs layer's
// handler does, count.
type bareWorker struct {
	river.WorkerDefaults[benchArgs]
	c *doneCounter
}

func (w *bareWorker) Work(context.Context, *river.Job[benchArgs]) error {
	w.c.inc()
	return nil
}

// BenchmarkJobThroughput enqueues benchBatch jobs whose handler only
// counts, from benchEnqueuers goroutines one job per call, and waits
// until every handler has returned (River then marks them completed in
// the database in batches, which the next iteration pays for, on both
// sides alike). "jobs" goes through Queue.Enqueue and the queue's
// workers; "river" is bare River with the same driver and settings
// (queues and their workers, fetch cooldown and poll interval,
// retention, timeouts), Client.Insert and a typed worker: the baseline
// the jobs layer's cost is the ratio to. It reports jobs/s end to end
// and enqueued/s over the enqueueing alone (workers run meanwhile).
func BenchmarkJobThroughput(b *testing.B) {
	for _, e := range benchEngines {
		b.Run(e.name+"/jobs", func(b *testing.B) {
			st := benchStore(b, e)
			c := newDoneCounter()
			q, err := jobs.New(context.Background(), st, jobs.Config{Logger: benchLog})
			if err != nil {
				b.Fatal(err)
			}
			err = q.Register(jobs.Kind{Name: "bench", Handler: func(context.Context, *jobs.Job) error {
				c.inc()
				return nil
			}})
			if err != nil {
				b.Fatal(err)
			}
			if err := q.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { stopQueue(b, q) })
			for _, per := range benchPerCall {
				b.Run(fmt.Sprintf("%d-per-call", per), func(b *testing.B) {
					runBatches(b, c, per, func(ctx context.Context, first, n int) error {
						if n == 1 {
							_, err := q.Enqueue(ctx, "bench", benchArgs{N: first}, nil)
							return err
						}
						items := make([]jobs.Item, n)
						for i := range items {
							items[i] = jobs.Item{Kind: "bench", Args: benchArgs{N: first + i}}
						}
						_, err := q.EnqueueMany(ctx, items)
						return err
					})
				})
			}
		})
		b.Run(e.name+"/river", func(b *testing.B) {
			st := benchStore(b, e)
			c := newDoneCounter()
			var insert func(context.Context, int, int) error
			switch s := st.(type) {
			case *sqlite.Store:
				db, err := s.OpenSQL() // River's own pool on the file, as newBackend opens it
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				insert = bareRiver(b, riversqlite.New(db), e, c)
			case *postgres.Store:
				insert = bareRiver(b, riverpgxv5.New(s.Pool()), e, c)
			}
			for _, per := range benchPerCall {
				b.Run(fmt.Sprintf("%d-per-call", per), func(b *testing.B) { runBatches(b, c, per, insert) })
			}
		})
	}
}

// benchPerCall are the jobs per enqueue call: one (Enqueue, Insert), and
// a hundred (EnqueueMany, InsertMany), as an importer or fan-out would.
var benchPerCall = []int{1, 100}

// bareRiver starts a River client on driver configured as newRiver
// configures the jobs layer's, with one worker counting into c, and
// returns a function inserting one job. The client stops when b ends.
func bareRiver[TTx any](b *testing.B, driver riverdriver.Driver[TTx], e benchEngine, c *doneCounter) func(context.Context, int, int) error {
	b.Helper()
	ctx := context.Background()
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: benchLog})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		b.Fatal(err)
	}
	cfg := jobs.Config{}.WithDefaults()
	queues := make(map[string]river.QueueConfig, len(cfg.Queues))
	for name, n := range cfg.Queues {
		queues[name] = river.QueueConfig{MaxWorkers: max(n, 1)}
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &bareWorker{c: c})
	client, err := river.NewClient(driver, &river.Config{
		Queues:                      queues,
		Workers:                     workers,
		FetchCooldown:               min(e.cooldown, e.poll),
		FetchPollInterval:           e.poll,
		RescueStuckJobsAfter:        cfg.RescueAfter,
		CompletedJobRetentionPeriod: cfg.KeepCompleted,
		CancelledJobRetentionPeriod: cfg.KeepFailed,
		DiscardedJobRetentionPeriod: cfg.KeepFailed,
		JobTimeout:                  time.Minute,
		MaxAttempts:                 10,
		Logger:                      benchLog,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := client.Stop(ctx); err != nil {
			b.Errorf("stop river: %v", err)
		}
	})
	return func(ctx context.Context, first, n int) error {
		if n == 1 {
			_, err := client.Insert(ctx, benchArgs{N: first}, nil)
			return err
		}
		params := make([]river.InsertManyParams, n)
		for i := range params {
			params[i] = river.InsertManyParams{Args: benchArgs{N: first + i}}
		}
		_, err := client.InsertMany(ctx, params)
		return err
	}
}

func stopQueue(b *testing.B, q *jobs.Queue) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Stop(ctx); err != nil {
		b.Errorf("stop queue: %v", err)
	}
}

// runBatches times batches of benchBatch jobs, enqueued per at a time
// by insert(ctx, first, n) from benchEnqueuers goroutines, then waited
// for on c.
func runBatches(b *testing.B, c *doneCounter, per int, insert func(context.Context, int, int) error) {
	ctx := context.Background()
	var enqueueing time.Duration
	batches := 0
	base := c.n.Load() // sub-benchmarks share a queue and its counter
	for b.Loop() {
		batches++
		c.want.Store(base + int64(batches*benchBatch))
		start := time.Now()
		if err := enqueueBatch(ctx, int(base)+batches*benchBatch, per, insert); err != nil {
			b.Fatal(err)
		}
		enqueueing += time.Since(start)
		select {
		case <-c.done:
		case <-time.After(2 * time.Minute):
			b.Fatalf("%d of %d jobs ran in 2 minutes", c.n.Load()-int64((batches-1)*benchBatch), benchBatch)
		}
	}
	jobsRun := float64(batches * benchBatch)
	b.ReportMetric(jobsRun/b.Elapsed().Seconds(), "jobs/s")
	b.ReportMetric(jobsRun/enqueueing.Seconds(), "enqueued/s")
}

// enqueueBatch enqueues benchBatch jobs, per at a time, from
// benchEnqueuers goroutines, with args numbered up to end; it returns the
// first error.
func enqueueBatch(ctx context.Context, end, per int, insert func(context.Context, int, int) error) error {
	var next atomic.Int64
	next.Store(int64(end - benchBatch))
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range benchEnqueuers {
		wg.Go(func() {
			for {
				last := next.Add(int64(per))
				from := last - int64(per) + 1
				if from > int64(end) {
					return
				}
				n := int(min(last, int64(end)) - from + 1)
				if err := insert(ctx, int(from), n); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// BenchmarkEnqueueTx measures what enqueueing a job in a record write
// costs: one Update inserting one record into a small collection
// ("create"), and the same Update also calling Queue.EnqueueTx
// ("create+enqueue"), from benchEnqueuers goroutines at once. The queue
// is not started (an enqueue-only process), so no worker competes with
// the writes: this is the cost in the write's transaction alone; what
// running the jobs costs is BenchmarkJobThroughput's. One op is one
// create; it reports creates/s.
//
// "create+defer" calls Queue.DeferTx instead: the job goes to the
// outbox, and the moves into River's table run during the benchmark (on
// SQLite on the same writer), so their cost is in the figure (all but the
// last few milliseconds' move).
//
// "create+row" inserts a second record instead of the job: the floor for
// any second row written in the same transaction, to compare the job's
// insert with.
func BenchmarkEnqueueTx(b *testing.B) {
	for _, e := range benchEngines {
		for _, extra := range []string{"", "+enqueue", "+defer", "+row"} {
			b.Run(e.name+"/create"+extra, func(b *testing.B) { benchCreate(b, e, extra) })
		}
	}
}

func benchCreate(b *testing.B, e benchEngine, extra string) {
	ctx := context.Background()
	st := benchStore(b, e)
	// The queue exists in both cases, so the two differ in the EnqueueTx
	// call only.
	q, err := jobs.New(ctx, st, jobs.Config{Logger: benchLog})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stopQueue(b, q) })
	if err := q.Register(jobs.Kind{Name: "created", Handler: func(context.Context, *jobs.Job) error { return nil }}); err != nil {
		b.Fatal(err)
	}
	c := &core.Collection{ID: "c1", Name: "items", Type: core.TypeBase, Fields: []core.Field{
		{ID: "f0", Name: "id", Type: core.FieldText, PrimaryKey: true},
		{ID: "f1", Name: "title", Type: core.FieldText},
	}}
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((benchEnqueuers + procs - 1) / procs)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("r%014d", next.Add(1))
			err := st.Update(ctx, func(tx store.Tx) error {
				r := core.NewRecord(c)
				r.Data["id"] = id
				r.Data["title"] = "Record " + id
				if err := tx.Insert(ctx, r); err != nil {
					return err
				}
				switch extra {
				case "+enqueue":
					_, err := q.EnqueueTx(ctx, tx, "created", map[string]string{"record": id}, nil)
					return err
				case "+defer":
					return q.DeferTx(ctx, tx, "created", map[string]string{"record": id}, nil)
				case "+row":
					r := core.NewRecord(c)
					r.Data["id"] = id + "b"
					r.Data["title"] = "Second " + id
					return tx.Insert(ctx, r)
				}
				return nil
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}
