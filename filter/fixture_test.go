package filter

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/store"
	_ "github.com/tortoise-dev/tortoise/store/sqlite" // the SQL functions filter's SQLite SQL calls
)

// fixture is a small world of collections and records, loaded into real
// SQLite and PostgreSQL databases following the storage contract of
// package store, and kept in memory for Eval.
type fixture struct {
	colls   map[string]*core.Collection
	records map[string][]*core.Record
	sqlite  *sql.DB
	pg      *sql.DB // nil without TORTOISE_TEST_POSTGRES
	auth    *core.Record
	now     time.Time
}

func (f *fixture) CollectionByNameOrID(s string) *core.Collection {
	for _, c := range f.colls {
		if c.Name == s || c.ID == s {
			return c
		}
	}
	return nil
}

func (f *fixture) Records(c *core.Collection) ([]*core.Record, error) {
	return f.records[c.Name], nil
}

func num(v float64) *float64 { return &v }

func testCollections() map[string]*core.Collection {
	idf := core.Field{ID: "f_id", Name: "id", Type: core.FieldText, PrimaryKey: true, System: true}
	created := core.Field{ID: "f_created", Name: "created", Type: core.FieldAutodate, OnCreate: true}
	users := &core.Collection{ID: "c_users", Name: "users", Type: core.TypeAuth, Fields: []core.Field{
		idf,
		{ID: "u1", Name: "name", Type: core.FieldText},
		{ID: "u2", Name: "email", Type: core.FieldEmail},
		{ID: "u3", Name: "age", Type: core.FieldNumber},
		{ID: "u4", Name: "verified", Type: core.FieldBool},
		{ID: "u5", Name: "role", Type: core.FieldSelect, Values: []string{"admin", "editor", "viewer"}, MaxSelect: 1},
		{ID: "u6", Name: "secret", Type: core.FieldText, Hidden: true},
		{ID: "u7", Name: "password", Type: core.FieldPassword, Hidden: true},
		{ID: "u8", Name: "friends", Type: core.FieldRelation, CollectionID: "c_users", MaxSelect: 5},
		{ID: "u9", Name: "avatar", Type: core.FieldFile, MaxSelect: 1},
		{ID: "u10", Name: "prefs", Type: core.FieldJSON},
		{ID: "u11", Name: "emailVisibility", Type: core.FieldBool},
		{ID: "u12", Name: "home", Type: core.FieldGeoPoint},
		created,
	}}
	tags := &core.Collection{ID: "c_tags", Name: "tags", Type: core.TypeBase, Fields: []core.Field{
		idf,
		{ID: "t1", Name: "name", Type: core.FieldText},
		{ID: "t2", Name: "weight", Type: core.FieldNumber},
	}}
	posts := &core.Collection{ID: "c_posts", Name: "posts", Type: core.TypeBase, Fields: []core.Field{
		idf,
		{ID: "p1", Name: "title", Type: core.FieldText},
		{ID: "p2", Name: "body", Type: core.FieldEditor},
		{ID: "p3", Name: "views", Type: core.FieldNumber},
		{ID: "p4", Name: "published", Type: core.FieldBool},
		{ID: "p5", Name: "status", Type: core.FieldSelect, Values: []string{"draft", "live", "Old"}, MaxSelect: 1},
		{ID: "p6", Name: "labels", Type: core.FieldSelect, Values: []string{"a", "b", "c", "D"}, MaxSelect: 4},
		{ID: "p7", Name: "author", Type: core.FieldRelation, CollectionID: "c_users", MaxSelect: 1},
		{ID: "p8", Name: "tags", Type: core.FieldRelation, CollectionID: "c_tags", MaxSelect: 10},
		{ID: "p9", Name: "meta", Type: core.FieldJSON},
		{ID: "p10", Name: "files", Type: core.FieldFile, MaxSelect: 5},
		{ID: "p11", Name: "publishedAt", Type: core.FieldDate},
		{ID: "p12", Name: "score", Type: core.FieldNumber, Min: num(-100)},
		{ID: "p13", Name: "internal", Type: core.FieldText, Hidden: true},
		{ID: "p14", Name: "location", Type: core.FieldGeoPoint},
		created,
	}}
	comments := &core.Collection{ID: "c_comments", Name: "comments", Type: core.TypeBase, Fields: []core.Field{
		idf,
		{ID: "m1", Name: "message", Type: core.FieldText},
		{ID: "m2", Name: "post", Type: core.FieldRelation, CollectionID: "c_posts", MaxSelect: 1},
		{ID: "m3", Name: "author", Type: core.FieldRelation, CollectionID: "c_users", MaxSelect: 1},
		{ID: "m4", Name: "likes", Type: core.FieldNumber},
		{ID: "m5", Name: "approved", Type: core.FieldBool},
		{ID: "m6", Name: "mentions", Type: core.FieldRelation, CollectionID: "c_users", MaxSelect: 3},
		created,
	}}
	superusers := &core.Collection{ID: "c_su", Name: core.SuperusersName, Type: core.TypeAuth, System: true, Fields: []core.Field{
		idf, {ID: "s1", Name: "email", Type: core.FieldEmail},
	}}
	// Everyone may list every record (the rules of related collections
	// apply to client filters: see "Access through relations"); the
	// access tests narrow them.
	for _, c := range []*core.Collection{users, tags, posts, comments} {
		c.ListRule = new(string)
	}
	return map[string]*core.Collection{"users": users, "tags": tags, "posts": posts, "comments": comments, core.SuperusersName: superusers}
}

func rid(prefix string, i int) string {
	return fmt.Sprintf("%s%0*d", prefix, core.IDLength-len(prefix), i)
}

// pick returns a random element of xs.
func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

func pickN(r *rand.Rand, n int, xs []string) []string {
	out := []string{}
	for range r.IntN(n + 1) {
		x := pick(r, xs...)
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// buildRecords makes varied, deterministic data, empty values included.
func buildRecords(colls map[string]*core.Collection, now time.Time) map[string][]*core.Record {
	r := rand.New(rand.NewPCG(7, 11))
	out := map[string][]*core.Record{}
	texts := []string{"", "Hello", "hello world", "HELLO", "Ann", "bob", "Bob", "Cid", "zed", "a_b", "50%", `back\slash`, "ünïcode", "Émile", "nice post", "NICE", "M", "m", "x"}
	date := func() string {
		if r.IntN(6) == 0 {
			return ""
		}
		return core.FormatTime(now.Add(time.Duration(r.IntN(24*60)-12*60) * time.Hour).Add(time.Duration(r.IntN(3600)) * time.Second))
	}
	jsons := []string{"", `null`, `{"color":"red","size":3,"flag":true}`, `{"color":"Blue","size":1.5,"flag":false}`,
		`{"color":5,"size":"7","nested":{"x":"y"}}`, `{"nested":{"x":"z"},"flag":null}`, `[1,2]`, `"red"`, `4`, `{"color":"","size":0}`}
	// Values only a search (~) over all of a document's scalars meets:
	// nesting, numbers written in other ways, empty containers. Drawn from
	// their own source so the rest of the data stays as it was.
	gr := rand.New(rand.NewPCG(13, 17))
	searchJSONs := []string{`{"tags":["a","b",{"c":true,"d":null}],"n":1.5e-7,"m":-0,"k":2E3}`, `{"big":12345678901234567890,"x":0.30000000000000004}`,
		`{"e":{},"f":[],"g":""}`, `[[["deep"]],"50%"]`, `{"size":100,"color":"red%"}`}
	// Points: nothing (0, 0), Sofia and places 2 km, 26 km, 130 km and
	// 1750 km from it, far ones, its antipode, the poles.
	points := []core.GeoPoint{{}, {Lon: 23.32, Lat: 42.69}, {Lon: 23.3219, Lat: 42.6977}, {Lon: 23.03, Lat: 42.6},
		{Lon: 24.7453, Lat: 42.1354}, {Lon: 2.3522, Lat: 48.8566}, {Lon: -73.9857, Lat: 40.7484}, {Lon: 151.2093, Lat: -33.8688},
		{Lon: -156.68, Lat: -42.69}, {Lon: 0, Lat: 90}, {Lon: 180, Lat: -90}, {Lon: -0.5, Lat: 0}}
	point := func() json.RawMessage {
		raw, _ := pick(gr, points...).JSON()
		return raw
	}
	var userIDs []string
	for i := 1; i <= 10; i++ {
		userIDs = append(userIDs, rid("user", i))
	}
	var tagIDs []string
	for i := 1; i <= 8; i++ {
		tagIDs = append(tagIDs, rid("tag", i))
	}
	var postIDs []string
	for i := 1; i <= 30; i++ {
		postIDs = append(postIDs, rid("post", i))
	}
	rec := func(c *core.Collection, data map[string]any) *core.Record {
		rc := core.NewRecord(c)
		for k, v := range data {
			rc.Data[k] = v
		}
		return rc
	}
	jsonVal := func() json.RawMessage {
		j := pick(r, jsons...)
		if j == "" {
			return nil
		}
		return json.RawMessage(j)
	}
	names := []string{"Ann", "Bob", "bob", "Cid", "", "Dee", "ann", "Eve", "Zoe", "Émile"}
	for i, id := range userIDs {
		out["users"] = append(out["users"], rec(colls["users"], map[string]any{
			"id": id, "name": names[i], "email": pick(r, "", "a@example.com", "B@Example.com", "c@test.org"),
			"age": float64(pick(r, 0, 18, 25, 31, 40, 65)), "verified": r.IntN(2) == 0,
			"role":    pick(r, "", "admin", "editor", "viewer"),
			"secret":  pick(r, "", "s1", "s2"),
			"friends": pickN(r, 3, append(userIDs, "missing0000000")),
			"avatar":  pick(r, "", "a.png", "b.jpg"), "prefs": jsonVal(), "created": date(),
			"emailVisibility": i%3 != 1,
			"home":            point(),
		}))
	}
	for i, id := range tagIDs {
		out["tags"] = append(out["tags"], rec(colls["tags"], map[string]any{
			"id": id, "name": []string{"go", "Go", "sql", "", "web", "db", "go", "x"}[i], "weight": float64(pick(r, 0, 1, 2, 5, 8, 10)),
		}))
	}
	for _, id := range postIDs {
		author := pick(r, userIDs...)
		if r.IntN(5) == 0 {
			author = pick(r, "", "missing0000000")
		}
		out["posts"] = append(out["posts"], rec(colls["posts"], map[string]any{
			"id": id, "title": pick(r, texts...), "body": pick(r, "", "<p>hi</p>", "long body text"),
			"views": pick(r, 0.0, 1.0, 3.5, 10.0, 11.0, 100.0, -2.0), "published": r.IntN(2) == 0,
			"status": pick(r, "", "draft", "live", "Old"), "labels": pickN(r, 3, []string{"a", "b", "c", "D"}),
			"author": author, "tags": pickN(r, 3, append(tagIDs, "missing0000000")),
			"meta": jsonVal(), "files": pickN(r, 2, []string{"x.png", "y.PNG", "z.txt"}),
			"publishedAt": date(), "score": float64(r.IntN(21) - 10), "internal": pick(r, "", "i1"), "created": date(),
			"location": point(),
		}))
		if gr.IntN(4) == 0 {
			rc := out["posts"][len(out["posts"])-1]
			rc.Data["meta"] = json.RawMessage(pick(gr, searchJSONs...))
			rc.Data["views"] = pick(gr, 0.1+0.2, 1e21, -0.5, 2.5e-7, 1234567890123.125, 9007199254740993)
		}
	}
	for i := 1; i <= 45; i++ {
		post := pick(r, postIDs[:20]...)
		if r.IntN(8) == 0 {
			post = ""
		}
		out["comments"] = append(out["comments"], rec(colls["comments"], map[string]any{
			"id": rid("comment", i), "message": pick(r, texts...), "post": post, "author": pick(r, append(userIDs, "")...),
			"likes": float64(r.IntN(8)), "approved": r.IntN(3) > 0, "mentions": pickN(r, 2, userIDs), "created": date(),
		}))
	}
	return out
}

// ddl creates a collection's table as package store lays it out.
func ddl(c *core.Collection, d query.Dialect) string {
	return store.CreateTableSQL(d, c, c.Name)
}

// storedValue converts a record value to what the driver stores.
func storedValue(f *core.Field, v any, d query.Dialect) any {
	switch f.Def().Storage(f) {
	case core.StorageList:
		b, _ := json.Marshal(v)
		return string(b)
	case core.StorageBool:
		if d == query.SQLite {
			if v.(bool) {
				return 1
			}
			return 0
		}
		return v
	case core.StorageJSON:
		raw, _ := v.(json.RawMessage)
		if raw == nil {
			return nil
		}
		return string(raw)
	}
	return v
}

// load creates a table for every collection but the system ones and
// inserts the records.
func load(t testing.TB, db *sql.DB, d query.Dialect, colls map[string]*core.Collection, recs map[string][]*core.Record) {
	t.Helper()
	ctx := context.Background()
	for _, name := range slices.Sorted(maps.Keys(colls)) {
		c := colls[name]
		if c.System {
			continue
		}
		if _, err := db.ExecContext(ctx, ddl(c, d)); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		var names, marks []string
		for i, f := range c.Fields {
			names = append(names, quote(f.Name))
			m := "?"
			if d == query.Postgres {
				m = fmt.Sprintf("$%d", i+1)
			}
			marks = append(marks, m)
		}
		q := "INSERT INTO " + quote(c.Name) + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
		for _, r := range recs[name] {
			var args []any
			for i := range c.Fields {
				f := &c.Fields[i]
				args = append(args, storedValue(f, r.Data[f.Name], d))
			}
			if _, err := db.ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("insert %s %v: %v", name, r.ID(), err)
			}
		}
	}
}

// newFixture builds the world in SQLite (always) and PostgreSQL (when
// TORTOISE_TEST_POSTGRES is set, in a schema of its own).
func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{colls: testCollections(), now: time.Date(2025, 6, 15, 13, 45, 30, 123e6, time.UTC)}
	f.records = buildRecords(f.colls, f.now)
	f.auth = f.records["users"][0]
	f.open(t)
	return f
}

// open loads f's collections and records into SQLite and, when
// TORTOISE_TEST_POSTGRES is set, into a PostgreSQL schema of their own.
func (f *fixture) open(t testing.TB) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	load(t, db, query.SQLite, f.colls, f.records)
	f.sqlite = db

	dsn := os.Getenv("TORTOISE_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TORTOISE_TEST_POSTGRES is not set in CI")
		}
		t.Log("TORTOISE_TEST_POSTGRES not set: PostgreSQL part skipped, SQLite and Eval still compared")
		return
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := fmt.Sprintf("filter_test_%d_%d", time.Now().UnixNano(), rand.IntN(1e6))
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	pg, err := sql.Open("pgx", dsn+sep+"search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	load(t, pg, query.Postgres, f.colls, f.records)
	f.pg = pg
}

// rebind rewrites ? placeholders as $1..$n (the SQL has no ? elsewhere).
func rebind(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func queryIDs(db *sql.DB, d query.Dialect, c *core.Collection, where query.SQL) ([]string, error) {
	q := "SELECT " + query.MainAlias + `."id" FROM ` + quote(c.Name) + " " + query.MainAlias + " WHERE " + where.Text
	if d == query.Postgres {
		q = rebind(q)
	}
	rows, err := db.Query(q, where.Args...)
	if err != nil {
		return nil, fmt.Errorf("%w\nSQL: %s\nargs: %v", err, q, where.Args)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, rows.Err()
}

// env is the environment the differential tests compile in.
func (f *fixture) env(coll string) *Env {
	return &Env{
		Schema:     f,
		Collection: f.colls[coll],
		Now:        f.now,
		Request: &Request{
			Auth: f.auth,
			Body: map[string]any{
				"title": "Hello", "views": "5", "labels": []any{"a", "b"}, "status": "draft",
				"published": "true", "nested": map[string]any{"k": "v"}, "n": 3.0, "empty": []any{},
				"words": []any{"hello", "NICE"}, "nums": []any{1.0, 10.0, 100.0},
				"lon": 23.32, "lat": "42.69", "radius": "30",
			},
			Query:   map[string]string{"q": "foo", "page": "2"},
			Headers: map[string]string{"X-Token": "abc", "Content-Type": "application/json"},
			Method:  "GET",
		},
		Params: map[string]any{"t": "Hello", "n": 10, "b": true, "list": []string{"a", "D"}, "lon": "23.32", "lat": 42.69},
	}
}

// matches evaluates one expression three ways and fails on disagreement.
// It returns the matching ids and the check error, if any.
func (f *fixture) matches(t *testing.T, coll, expr string, env *Env) ([]string, error) {
	t.Helper()
	c := f.colls[coll]
	e, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	where, err := CompileExpr(e, env, query.SQLite)
	if err != nil {
		return nil, err
	}
	got, err := queryIDs(f.sqlite, query.SQLite, c, where)
	if err != nil {
		t.Fatalf("%s: sqlite: %v", expr, err)
	}
	mem := []string{}
	for _, r := range f.records[coll] {
		ok, err := Eval(e, env, r, f)
		if err != nil {
			t.Fatalf("%s: eval: %v", expr, err)
		}
		if ok {
			mem = append(mem, r.ID())
		}
	}
	slices.Sort(mem)
	if !slices.Equal(got, mem) {
		t.Errorf("%s: sqlite and eval differ\nsqlite: %v\neval:   %v\nSQL: %s %v", expr, got, mem, where.Text, where.Args)
	}
	if f.pg != nil {
		pwhere, err := CompileExpr(e, env, query.Postgres)
		if err != nil {
			t.Fatalf("%s: postgres compile: %v", expr, err)
		}
		pgot, err := queryIDs(f.pg, query.Postgres, c, pwhere)
		if err != nil {
			t.Fatalf("%s: postgres: %v", expr, err)
		}
		if !slices.Equal(pgot, mem) {
			t.Errorf("%s: postgres and eval differ\npostgres: %v\neval:     %v\nSQL: %s %v", expr, pgot, mem, pwhere.Text, pwhere.Args)
		}
	}
	return mem, nil
}
