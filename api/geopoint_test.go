package api_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// placesSchema creates "places" with a geoPoint field "spot", public to
// read, superusers-only to write.
func placesSchema(t *testing.T, s *testkit.Server) {
	t.Helper()
	s.Super("POST", "/api/collections", map[string]any{
		"name": "places", "listRule": "", "viewRule": "",
		"fields": []map[string]any{{"name": "name", "type": "text"}, {"name": "spot", "type": "geoPoint"}},
	}, 200, nil)
}

// point reads a record's geoPoint value, failing unless it has exactly
// the two numbers lon and lat.
func point(t *testing.T, rec map[string]any, field string) [2]float64 {
	t.Helper()
	p, ok := rec[field].(map[string]any)
	lon, okLon := p["lon"].(float64)
	lat, okLat := p["lat"].(float64)
	if !ok || !okLon || !okLat || len(p) != 2 {
		t.Fatalf("%s = %#v, want {lon, lat}", field, rec[field])
	}
	return [2]float64{lon, lat}
}

// form sends a form body (multipart when multi, else urlencoded) as the
// superuser and returns the status and the decoded answer.
func form(t *testing.T, s *testkit.Server, method, path string, vals map[string]string, multi bool) (int, map[string]any) {
	t.Helper()
	var body []byte
	ct := "application/x-www-form-urlencoded"
	if multi {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range vals {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
		mw.Close()
		body, ct = buf.Bytes(), mw.FormDataContentType()
	} else {
		q := url.Values{}
		for k, v := range vals {
			q.Set(k, v)
		}
		body = []byte(q.Encode())
	}
	resp := s.RequestWithHeaders(method, path, map[string]string{"Content-Type": ct, "Authorization": s.Token}, body)
	var out map[string]any
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		t.Fatalf("%s %s: decode %s: %v", method, path, resp.Body, err)
	}
	return resp.Status, out
}

func TestGeoPointField(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		placesSchema(t, s)
		var coll struct {
			Fields []map[string]any `json:"fields"`
		}
		s.Super("GET", "/api/collections/places", nil, 200, &coll)
		if i := slices.IndexFunc(coll.Fields, func(f map[string]any) bool { return f["name"] == "spot" }); i < 0 ||
			coll.Fields[i]["type"] != "geoPoint" || coll.Fields[i]["required"] != false {
			t.Fatalf("collection fields: %v", coll.Fields)
		}

		// JSON, a form's text, multipart (plain and @jsonPayload), and none.
		sofia := create(t, s, "places", map[string]any{"name": "Sofia", "spot": map[string]any{"lon": 23.3219, "lat": 42.6977}})
		if got := point(t, sofia, "spot"); got != [2]float64{23.3219, 42.6977} {
			t.Errorf("JSON create: %v", got)
		}
		status, plovdiv := form(t, s, "POST", "/api/collections/places/records",
			map[string]string{"name": "Plovdiv", "spot": `{"lon": 24.7453, "lat": 42.1354}`}, true)
		if status != 200 || point(t, plovdiv, "spot") != [2]float64{24.7453, 42.1354} {
			t.Errorf("multipart create: %d %v", status, plovdiv)
		}
		status, varna := form(t, s, "POST", "/api/collections/places/records",
			map[string]string{"name": "Varna", "spot": `{"lat":43.2141,"lon":27.9147}`}, false)
		if status != 200 || point(t, varna, "spot") != [2]float64{27.9147, 43.2141} {
			t.Errorf("urlencoded create: %d %v", status, varna)
		}
		status, paris := form(t, s, "POST", "/api/collections/places/records",
			map[string]string{"@jsonPayload": `{"name":"Paris","spot":{"lon":2.3522,"lat":48.8566}}`}, true)
		if status != 200 || point(t, paris, "spot") != [2]float64{2.3522, 48.8566} {
			t.Errorf("@jsonPayload create: %d %v", status, paris)
		}
		none := create(t, s, "places", map[string]any{"name": "Nowhere"})
		if got := point(t, none, "spot"); got != [2]float64{0, 0} {
			t.Errorf("default: %v", got)
		}
		half := create(t, s, "places", map[string]any{"name": "Half", "spot": map[string]any{"lat": 1.5, "lon": nil}})
		if got := point(t, half, "spot"); got != [2]float64{0, 1.5} {
			t.Errorf("a missing or null part is 0: %v", got)
		}
		s.Super("DELETE", "/api/collections/places/records/"+half["id"].(string), nil, 204, nil)
		var upd map[string]any
		s.Super("PATCH", "/api/collections/places/records/"+none["id"].(string), map[string]any{"spot": map[string]any{"lat": -33.8688, "lon": 151.2093}}, 200, &upd)
		if got := point(t, upd, "spot"); got != [2]float64{151.2093, -33.8688} {
			t.Errorf("update: %v", got)
		}
		status, upd = form(t, s, "PATCH", "/api/collections/places/records/"+none["id"].(string), map[string]string{"spot": ""}, true)
		if status != 200 || point(t, upd, "spot") != [2]float64{0, 0} {
			t.Errorf("form clears the point: %d %v", status, upd)
		}
		var got map[string]any
		resp := s.Do("GET", "/api/collections/places/records/"+sofia["id"].(string), "", nil, 200, &got)
		if point(t, got, "spot") != [2]float64{23.3219, 42.6977} {
			t.Errorf("view: %v", got)
		}
		// The same text from either engine (PostgreSQL's jsonb would give
		// {"lat": 42.6977, "lon": 23.3219}).
		if !bytes.Contains(resp.Body, []byte(`"spot":{"lon":23.3219,"lat":42.6977}`)) {
			t.Errorf("view body: %s", resp.Body)
		}

		// geoDistance, the parts in filters and sorts.
		names := func(filter, sort string) []string {
			t.Helper()
			var l list
			s.Do("GET", "/api/collections/places/records?perPage=100&filter="+url.QueryEscape(filter)+"&sort="+url.QueryEscape(sort), "", nil, 200, &l)
			var out []string
			for _, it := range l.Items {
				out = append(out, it["name"].(string))
			}
			return out
		}
		for _, tc := range []struct {
			filter, sort string
			want         []string
		}{
			{"geoDistance(spot.lon, spot.lat, 23.32, 42.69) < 25", "name", []string{"Sofia"}},
			{"geoDistance(spot.lon, spot.lat, 23.32, 42.69) < 200", "name", []string{"Plovdiv", "Sofia"}},
			{"geoDistance(23.32, 42.69, spot.lon, spot.lat) < 500", "-spot.lon", []string{"Varna", "Plovdiv", "Sofia"}},
			{"geoDistance(spot.lon, spot.lat, 23.32, 42.69) > 1000", "spot.lat", []string{"Nowhere", "Paris"}},
			{"spot.lat > 42.5 && spot.lon < 25", "-spot.lat", []string{"Paris", "Sofia"}},
			{"spot.lon = 0", "", []string{"Nowhere"}},
			{`spot ~ "42.1"`, "", []string{"Plovdiv"}},
		} {
			if got := names(tc.filter, tc.sort); !slices.Equal(got, tc.want) {
				t.Errorf("filter %q sort %q: %v, want %v", tc.filter, tc.sort, got, tc.want)
			}
		}
		for _, bad := range []struct{ filter, sort string }{
			{"geoDistance(spot.lon, spot.lat) < 25", ""},
			{"geoDistance(spot.lon, name, 1, 2) < 25", ""},
			{"spot.alt = 1", ""},
			{"nearby(spot.lon, spot.lat, 1, 2) < 1", ""},
			{"", "spot"},
			{"", "spot.alt"},
		} {
			var e errBody
			s.Do("GET", "/api/collections/places/records?filter="+url.QueryEscape(bad.filter)+"&sort="+url.QueryEscape(bad.sort), "", nil, 400, &e)
			param := "filter"
			if bad.sort != "" {
				param = "sort"
			}
			if e.Data[param].Code != "validation_invalid_"+param || e.Data[param].Message == "" {
				t.Errorf("filter %q sort %q: %+v", bad.filter, bad.sort, e)
			}
		}
	})
}

func TestGeoPointBadInput(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		placesSchema(t, s)
		for _, tc := range []struct {
			name string
			spot any
			code string
		}{
			{"latitude over 90", map[string]any{"lon": 10, "lat": 200}, "validation_invalid_latitude"},
			{"latitude under -90", map[string]any{"lon": 10, "lat": -90.5}, "validation_invalid_latitude"},
			{"longitude over 180", map[string]any{"lon": 180.01, "lat": 0}, "validation_invalid_longitude"},
			{"longitude as text", map[string]any{"lon": "x", "lat": 1}, "validation_invalid_value"},
			{"number as text", map[string]any{"lon": "23.3", "lat": 1}, "validation_invalid_value"},
			{"unknown key", map[string]any{"lng": 23.3, "lat": 1}, "validation_invalid_value"},
			{"list", []any{23.3, 42.7}, "validation_invalid_value"},
			{"text", "23.3,42.7", "validation_invalid_value"},
			{"malformed JSON text", `{"lon": 23.3,`, "validation_invalid_value"},
			{"bool", true, "validation_invalid_value"},
		} {
			var e errBody
			s.Super("POST", "/api/collections/places/records", map[string]any{"name": tc.name, "spot": tc.spot}, 400, &e)
			if e.Data["spot"].Code != tc.code || e.Data["spot"].Message == "" {
				t.Errorf("%s: error %+v, want spot %s", tc.name, e, tc.code)
			}
		}
		// The same through forms.
		for _, multi := range []bool{true, false} {
			for _, text := range []string{`{"lon": 23.3,`, `{"lon":1,"lat":91}`, `[1,2]`, `{"lon":"1"}`} {
				status, out := form(t, s, "POST", "/api/collections/places/records", map[string]string{"name": "x", "spot": text}, multi)
				data, _ := out["data"].(map[string]any)
				if status != 400 || data["spot"] == nil {
					t.Errorf("form (multipart %v) spot %s: %d %v", multi, text, status, out)
				}
			}
		}
		// Nothing was written.
		var l list
		s.Super("GET", "/api/collections/places/records", nil, 200, &l)
		if l.TotalItems != 0 {
			t.Errorf("bad input left %d records", l.TotalItems)
		}

		// Required means not the zero point, as in PocketBase.
		s.Super("POST", "/api/collections", map[string]any{
			"name": "offices", "fields": []map[string]any{{"name": "hq", "type": "geoPoint", "required": true}},
		}, 200, nil)
		for _, body := range []map[string]any{{}, {"hq": map[string]any{"lon": 0, "lat": 0}}} {
			var e errBody
			s.Super("POST", "/api/collections/offices/records", body, 400, &e)
			if e.Data["hq"].Code != "validation_required" {
				t.Errorf("required %v: %+v", body, e)
			}
		}
		create(t, s, "offices", map[string]any{"hq": map[string]any{"lon": 0, "lat": 0.5}})
	})
}

// A geoPoint field added to a collection that has records reads as the
// zero point on those records, on both engines.
func TestGeoPointAddedLater(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "shops", "listRule": "", "fields": []map[string]any{{"name": "name", "type": "text"}},
		}, 200, nil)
		old := create(t, s, "shops", map[string]any{"name": "old"})
		var coll map[string]any
		s.Super("GET", "/api/collections/shops", nil, 200, &coll)
		fields := coll["fields"].([]any)
		coll["fields"] = append(fields, map[string]any{"name": "spot", "type": "geoPoint"})
		s.Super("PATCH", "/api/collections/shops", coll, 200, nil)
		var got map[string]any
		s.Super("GET", "/api/collections/shops/records/"+old["id"].(string), nil, 200, &got)
		if point(t, got, "spot") != [2]float64{0, 0} {
			t.Errorf("old record: %v", got)
		}
		var l list
		s.Do("GET", "/api/collections/shops/records?filter="+url.QueryEscape("geoDistance(spot.lon, spot.lat, 0, 0) = 0 && spot.lat = 0"), "", nil, 200, &l)
		if len(l.Items) != 1 || !strings.EqualFold(l.Items[0]["name"].(string), "old") {
			t.Errorf("filter on the old record: %+v", l.Items)
		}
	})
}

// Rules see a geoPoint in the body as the record will store it, so its
// parts and geoDistance work there too.
func TestGeoPointInRules(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		s.Super("POST", "/api/collections", map[string]any{
			"name": "checkins", "listRule": "", "viewRule": "",
			"createRule": "geoDistance(@request.body.spot.lon, @request.body.spot.lat, 23.32, 42.69) < 50 && @request.body.spot.lat > 0",
			"fields":     []map[string]any{{"name": "spot", "type": "geoPoint"}},
		}, 200, nil)
		s.Do("POST", "/api/collections/checkins/records", "", map[string]any{"spot": map[string]any{"lon": 23.3, "lat": 42.7}}, 200, nil)
		s.Do("POST", "/api/collections/checkins/records", "", map[string]any{"spot": map[string]any{"lon": 2.35, "lat": 48.86}}, 400, nil)
		s.Do("POST", "/api/collections/checkins/records", "", map[string]any{}, 400, nil)
		// A form's text is read as the field reads it before the rule.
		resp := s.RequestWithHeaders("POST", "/api/collections/checkins/records",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "spot="+url.QueryEscape(`{"lon":23.4,"lat":42.6}`))
		if resp.Status != 200 {
			t.Errorf("form inside the area: %d %s", resp.Status, resp.Body)
		}
		var l list
		s.Do("GET", "/api/collections/checkins/records", "", nil, 200, &l)
		if l.TotalItems != 2 {
			t.Errorf("%d check-ins, want 2", l.TotalItems)
		}
	})
}
