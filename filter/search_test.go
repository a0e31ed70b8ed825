package filter

import (
	"database/sql"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/query"
)

// placesFixture is a small world for text search across field types and
// for geoPoint: five places in SQLite, PostgreSQL (when configured) and
// memory.
func placesFixture(t *testing.T) *fixture {
	t.Helper()
	idf := core.Field{ID: "f_id", Name: "id", Type: core.FieldText, PrimaryKey: true, System: true}
	places := &core.Collection{ID: "c_places", Name: "places", Type: core.TypeBase, ListRule: new(string), Fields: []core.Field{
		idf,
		{ID: "p1", Name: "title", Type: core.FieldText},
		{ID: "p2", Name: "visits", Type: core.FieldNumber},
		{ID: "p3", Name: "open", Type: core.FieldBool},
		{ID: "p4", Name: "opened", Type: core.FieldDate},
		{ID: "p5", Name: "kinds", Type: core.FieldSelect, Values: []string{"cafe", "bar"}, MaxSelect: 2},
		{ID: "p6", Name: "info", Type: core.FieldJSON},
		{ID: "p7", Name: "spot", Type: core.FieldGeoPoint},
	}}
	f := &fixture{colls: map[string]*core.Collection{"places": places}, records: map[string][]*core.Record{},
		now: time.Date(2025, 6, 15, 13, 45, 30, 0, time.UTC)}
	add := func(id int, title string, visits float64, open bool, opened string, kinds []string, info string, spot core.GeoPoint) {
		r := core.NewRecord(places)
		r.Data["id"], r.Data["title"], r.Data["visits"], r.Data["open"], r.Data["opened"], r.Data["kinds"] =
			rid("place", id), title, visits, open, opened, kinds
		if info != "" {
			r.Data["info"] = json.RawMessage(info)
		}
		r.Data["spot"], _ = spot.JSON()
		f.records["places"] = append(f.records["places"], r)
	}
	add(1, "Sofia", 3, true, "2024-01-02 10:00:00.000Z", []string{"cafe", "bar"},
		`{"rating":4.5,"tags":["quiet","wifi"],"x":true}`, core.GeoPoint{Lon: 23.3219, Lat: 42.6977})
	add(2, "Plovdiv", 0.1+0.2, false, "", []string{}, "", core.GeoPoint{Lon: 24.7453, Lat: 42.1354})
	add(3, "Varna", 1e21, true, "", []string{"bar"}, `{"note":"3 stars"}`, core.GeoPoint{Lon: 27.9147, Lat: 43.2141})
	add(4, "Paris", -2.5, false, "", []string{"cafe"}, `[1,[2,3]]`, core.GeoPoint{Lon: 2.3522, Lat: 48.8566})
	add(5, "Nowhere", 0, false, "", []string{}, `{"e":{},"f":[]}`, core.GeoPoint{})
	f.open(t)
	return f
}

// titles runs expr on all three back ends (failing on disagreement) and
// returns the titles it selects, sorted.
func (f *fixture) titles(t *testing.T, coll, expr string, env *Env) []string {
	t.Helper()
	ids, err := f.matches(t, coll, expr, env)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	var out []string
	for _, r := range f.records[coll] {
		if slices.Contains(ids, r.ID()) {
			out = append(out, r.String("title"))
		}
	}
	slices.Sort(out)
	return out
}

// TestSearchEveryType pins what ~ means on each field type (see "Text
// search" in the package doc): the value is compared as its text.
func TestSearchEveryType(t *testing.T) {
	t.Parallel()
	f := placesFixture(t)
	env := &Env{Schema: f, Collection: f.colls["places"], Now: f.now}
	all := []string{"Nowhere", "Paris", "Plovdiv", "Sofia", "Varna"}
	tests := []struct {
		expr string
		want []string
	}{
		// Numbers: a whole number in full, others to 15 significant
		// digits, never with an exponent or a trailing ".0".
		{`visits ~ "3"`, []string{"Plovdiv", "Sofia"}},
		{`visits ~ "3.0"`, nil},
		{`visits = 3`, []string{"Sofia"}},
		{`visits ~ "0.3"`, []string{"Plovdiv"}},
		{`visits ~ "0.30000000000000004"`, nil},
		{`visits ~ "e"`, nil},
		{`visits ~ "1000000000000000000000"`, []string{"Varna"}},
		{`visits ~ "-2.5"`, []string{"Paris"}},
		{`visits !~ "0"`, []string{"Paris", "Sofia"}},
		// Bools as true and false.
		{`open ~ "true"`, []string{"Sofia", "Varna"}},
		{`open ~ "FAL"`, []string{"Nowhere", "Paris", "Plovdiv"}},
		{`open ~ "1"`, nil},
		// Dates and selects as they are stored.
		{`opened ~ "2024-01"`, []string{"Sofia"}},
		{`kinds ~ "caf"`, []string{"Paris", "Sofia"}},
		{`kinds !~ "bar"`, []string{"Nowhere", "Paris", "Plovdiv"}},
		// json: some scalar at any depth; keys and punctuation are not text.
		{`info ~ "wifi"`, []string{"Sofia"}},
		{`info ~ "4.5"`, []string{"Sofia"}},
		{`info ~ "true"`, []string{"Sofia"}},
		{`info ~ "3"`, []string{"Paris", "Varna"}},
		{`info ~ "rating"`, nil},
		{`info ~ "["`, nil},
		{`info !~ "a"`, []string{"Nowhere", "Paris", "Plovdiv", "Sofia"}},
		{`info ?!~ "wifi"`, []string{"Nowhere", "Paris", "Plovdiv", "Sofia", "Varna"}},
		{`info ~ ""`, all},
		{`info.tags ~ "qui"`, []string{"Sofia"}},
		{`info.tags !~ "qui"`, []string{"Nowhere", "Paris", "Plovdiv", "Varna"}},
		// geoPoint: its lon and lat.
		{`spot ~ "23.3219"`, []string{"Sofia"}},
		{`spot.lat ~ "48."`, []string{"Paris"}},
		{`spot.lon ~ "-"`, nil},
		// A search over every field, as a client's search box sends it.
		{`title ~ "3" || visits ~ "3" || open ~ "3" || opened ~ "3" || kinds ~ "3" || info ~ "3" || spot ~ "3"`,
			[]string{"Paris", "Plovdiv", "Sofia", "Varna"}},
		{`title ~ "tru" || visits ~ "tru" || open ~ "tru" || info ~ "tru"`, []string{"Sofia", "Varna"}},
	}
	for _, tc := range tests {
		if got := f.titles(t, "places", tc.expr, env); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.expr, got, tc.want)
		}
	}
}

// haversineRef is an independent reference: the spherical law of cosines,
// which agrees with the haversine formula to well under a millimetre at
// these distances.
func haversineRef(lonA, latA, lonB, latB float64) float64 {
	r := math.Pi / 180
	c := math.Sin(latA*r)*math.Sin(latB*r) + math.Cos(latA*r)*math.Cos(latB*r)*math.Cos((lonB-lonA)*r)
	return 6371 * math.Acos(math.Max(-1, math.Min(1, c)))
}

func TestGeoDistance(t *testing.T) {
	t.Parallel()
	f := placesFixture(t)
	env := &Env{Schema: f, Collection: f.colls["places"], Now: f.now,
		Params:  map[string]any{"lon": 23.32, "lat": "42.69", "km": 200},
		Request: &Request{Query: map[string]string{"lon": "23.32", "lat": "42.69", "km": "25"}}}
	tests := []struct {
		expr string
		want []string
	}{
		{`geoDistance(spot.lon, spot.lat, 23.32, 42.69) < 25`, []string{"Sofia"}},
		{`geoDistance(spot.lon, spot.lat, 23.32, 42.69) < 200`, []string{"Plovdiv", "Sofia"}},
		{`geoDistance(spot.lon, spot.lat, 23.32, 42.69) < 500`, []string{"Plovdiv", "Sofia", "Varna"}},
		{`geoDistance(spot.lon, spot.lat, 23.32, 42.69) > 1000`, []string{"Nowhere", "Paris"}},
		{`25 > geoDistance(23.32, 42.69, spot.lon, spot.lat)`, []string{"Sofia"}},
		{`geoDistance(spot.lon, spot.lat, {:lon}, {:lat}) < {:km}`, []string{"Plovdiv", "Sofia"}},
		{`geoDistance(spot.lon, spot.lat, @request.query.lon, @request.query.lat) <= @request.query.km`, []string{"Sofia"}},
		// Exact values: a quarter and a half of a great circle, to the mm.
		{`geoDistance(spot.lon, spot.lat, 0, 90) = 10007.543398`, []string{"Nowhere"}},
		{`geoDistance(spot.lon, spot.lat, 180, 0) = 20015.086796`, []string{"Nowhere"}},
		{`geoDistance(spot.lon, spot.lat, spot.lon, spot.lat) = 0`, []string{"Nowhere", "Paris", "Plovdiv", "Sofia", "Varna"}},
		{`geoDistance(1, 2, 3, 4) > 314 && geoDistance(1, 2, 3, 4) < 315`, []string{"Nowhere", "Paris", "Plovdiv", "Sofia", "Varna"}},
		{`spot.lon > 20 && spot.lat < 43`, []string{"Plovdiv", "Sofia"}},
		{`spot.lon = 0 && spot.lat = null`, []string{"Nowhere"}},
	}
	for _, tc := range tests {
		if got := f.titles(t, "places", tc.expr, env); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.expr, got, tc.want)
		}
	}

	// The distances themselves, against the reference, on every engine.
	sofia := core.GeoPoint{Lon: 23.3219, Lat: 42.6977}
	for _, r := range f.records["places"] {
		var p core.GeoPoint
		if err := json.Unmarshal(r.Data["spot"].(json.RawMessage), &p); err != nil {
			t.Fatal(err)
		}
		ref := haversineRef(sofia.Lon, sofia.Lat, p.Lon, p.Lat)
		got := geoDistance(sofia.Lon, sofia.Lat, p.Lon, p.Lat)
		if math.Abs(got-ref) > 1e-6 {
			t.Errorf("%s: geoDistance %v, reference %v", r.String("title"), got, ref)
		}
		lo, hi := math.Floor(ref*1000)/1000, math.Ceil(ref*1000)/1000+0.001
		env.Params = map[string]any{"lo": lo, "hi": hi}
		expr := `geoDistance(23.3219, 42.6977, spot.lon, spot.lat) >= {:lo} && geoDistance(23.3219, 42.6977, spot.lon, spot.lat) < {:hi}`
		if got := f.titles(t, "places", expr, env); !slices.Contains(got, r.String("title")) {
			t.Errorf("%s: distance not in [%v, %v): %v", r.String("title"), lo, hi, got)
		}
	}
}

// TestSortByGeoPointPart sorts by a geoPoint's longitude on each engine.
func TestSortByGeoPointPart(t *testing.T) {
	t.Parallel()
	f := placesFixture(t)
	env := &Env{Schema: f, Collection: f.colls["places"], Now: f.now}
	for _, d := range []query.Dialect{query.SQLite, query.Postgres} {
		db := f.sqlite
		if d == query.Postgres {
			if db = f.pg; db == nil {
				continue
			}
		}
		order, err := CompileSort("-spot.lon,title", env, d)
		if err != nil {
			t.Fatal(err)
		}
		q := `SELECT "title" FROM "places" ` + query.MainAlias + " ORDER BY " + order
		got := queryStrings(t, db, q)
		if want := []string{"Varna", "Plovdiv", "Sofia", "Paris", "Nowhere"}; !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", d, got, want)
		}
	}
}

// TestSortByGeoPointThroughRelation sorts posts by their author's home
// latitude: a missing author or point sorts as 0, on both engines alike.
func TestSortByGeoPointThroughRelation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env("posts")
	lat := func(post *core.Record) float64 {
		for _, u := range f.records["users"] {
			if u.ID() == post.String("author") {
				var p core.GeoPoint
				_ = json.Unmarshal(u.Data["home"].(json.RawMessage), &p)
				return p.Lat
			}
		}
		return 0
	}
	posts := slices.Clone(f.records["posts"])
	slices.SortStableFunc(posts, func(a, b *core.Record) int {
		if la, lb := lat(a), lat(b); la != lb {
			if la > lb {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID(), b.ID())
	})
	var want []string
	for _, p := range posts {
		want = append(want, p.ID())
	}
	for _, d := range []query.Dialect{query.SQLite, query.Postgres} {
		db := f.sqlite
		if d == query.Postgres {
			if db = f.pg; db == nil {
				continue
			}
		}
		order, err := CompileSort("-author.home.lat,id", env, d)
		if err != nil {
			t.Fatal(err)
		}
		got := queryStrings(t, db, `SELECT "id" FROM "posts" `+query.MainAlias+" ORDER BY "+order)
		if len(got) != len(f.records["posts"]) {
			t.Fatalf("%s: %d rows", d, len(got))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", d, got, want)
		}
	}
}

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNumberTextEngines checks that both engines write numbers as text
// exactly as core.FormatNumber does, for awkward and random values.
func TestNumberTextEngines(t *testing.T) {
	t.Parallel()
	f := placesFixture(t)
	vals := []float64{0, math.Copysign(0, -1), 3, -2, 0.1 + 0.2, 1.0 / 3, 1e21, 1e-7, 5e-324, 1e300, -math.MaxFloat64,
		1 << 53, 1<<53 + 2, 1<<53 - 1, 9007199254740993, 1234567890123.125, 999999999999999.9, 0.5, 2.5e-7}
	r := rand.New(rand.NewPCG(3, 5))
	for len(vals) < 3000 {
		var v float64
		switch len(vals) % 3 {
		case 0:
			v = math.Float64frombits(r.Uint64())
		case 1:
			v = float64(r.Int64N(1<<62)) / float64(int64(1)<<r.IntN(62))
		default:
			v = r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
		}
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	for _, d := range []query.Dialect{query.SQLite, query.Postgres} {
		db := f.sqlite
		if d == query.Postgres {
			if db = f.pg; db == nil {
				continue
			}
		}
		g := &sqlgen{d: d}
		x := g.numText(g.param(0.0, cNumber))
		q := "SELECT " + x.text
		if d == query.Postgres {
			q = rebind(q)
		}
		stmt, err := db.Prepare(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		bad := 0
		for _, v := range vals {
			var s string
			if err := stmt.QueryRow(v).Scan(&s); err != nil {
				t.Fatalf("%s %v: %v", d, v, err)
			}
			if want := core.FormatNumber(v); s != want && bad < 10 {
				bad++
				t.Errorf("%s: %v as text is %q, want %q", d, v, s, want)
			}
		}
		stmt.Close()
	}
}
