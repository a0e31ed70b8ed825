package core

import (
	"encoding/json"
	"math"
	"testing"
)

func TestGeoPointCoerceAndValidate(t *testing.T) {
	t.Parallel()
	f := &Field{Name: "spot", Type: FieldGeoPoint}
	req := &Field{Name: "spot", Type: FieldGeoPoint, Required: true}
	tests := []struct {
		name  string
		field *Field
		in    any
		want  string // the canonical JSON, when valid
		code  string // the error code from Coerce or ValidateValue
	}{
		{"object", f, map[string]any{"lon": 23.32, "lat": 42.69}, `{"lon":23.32,"lat":42.69}`, ""},
		{"json number", f, map[string]any{"lon": json.Number("-1.5"), "lat": json.Number("2")}, `{"lon":-1.5,"lat":2}`, ""},
		{"Go value", f, GeoPoint{Lon: 1, Lat: 2}, `{"lon":1,"lat":2}`, ""},
		{"Go pointer", f, &GeoPoint{Lon: 3}, `{"lon":3,"lat":0}`, ""},
		{"form text", f, ` {"lat": 42.69, "lon": 23.32} `, `{"lon":23.32,"lat":42.69}`, ""},
		{"raw", f, json.RawMessage(`{"lat":1}`), `{"lon":0,"lat":1}`, ""},
		{"bytes", f, []byte(`{"lon":1,"lat":null}`), `{"lon":1,"lat":0}`, ""},
		{"nil", f, nil, `{"lon":0,"lat":0}`, ""},
		{"empty text", f, "", `{"lon":0,"lat":0}`, ""},
		{"null text", f, "null", `{"lon":0,"lat":0}`, ""},
		{"edges", f, map[string]any{"lon": -180.0, "lat": 90.0}, `{"lon":-180,"lat":90}`, ""},
		{"latitude", f, map[string]any{"lon": 1.0, "lat": 90.0001}, "", "validation_invalid_latitude"},
		{"longitude", f, map[string]any{"lon": -180.5, "lat": 1.0}, "", "validation_invalid_longitude"},
		{"text part", f, map[string]any{"lon": "1", "lat": 1.0}, "", "validation_invalid_value"},
		{"unknown key", f, map[string]any{"lon": 1.0, "lng": 1.0}, "", "validation_invalid_value"},
		{"list", f, []any{1.0, 2.0}, "", "validation_invalid_value"},
		{"array text", f, `[1, 2]`, "", "validation_invalid_value"},
		{"pair text", f, `23.32,42.69`, "", "validation_invalid_value"},
		{"two objects", f, `{"lon":1}{"lat":2}`, "", "validation_invalid_value"},
		{"number", f, 5.0, "", "validation_invalid_value"},
		{"infinite", f, GeoPoint{Lon: math.Inf(1)}, "", "validation_invalid_value"},
		{"required zero", req, map[string]any{"lon": 0.0, "lat": 0.0}, "", "validation_required"},
		{"required missing", req, nil, "", "validation_required"},
		{"required set", req, map[string]any{"lon": 0.0, "lat": 0.1}, `{"lon":0,"lat":0.1}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, fe := CoerceValue(tc.field, tc.in)
			if fe == nil {
				fe = ValidateValue(tc.field, v)
			}
			switch {
			case tc.code != "":
				if fe == nil || fe.Code != tc.code || fe.Message == "" {
					t.Fatalf("got %s, %+v; want error %s", v, fe, tc.code)
				}
			case fe != nil:
				t.Fatalf("error %+v", fe)
			case string(v.(json.RawMessage)) != tc.want:
				t.Fatalf("got %s, want %s", v, tc.want)
			}
		})
	}
}

func TestGeoPointStorage(t *testing.T) {
	t.Parallel()
	f := &Field{Name: "spot", Type: FieldGeoPoint}
	if f.Def().Storage(f) != StorageJSON || f.IsMultiple() {
		t.Errorf("storage %v", f.Def().Storage(f))
	}
	if z := ZeroValue(f); string(z.(json.RawMessage)) != `{"lon":0,"lat":0}` {
		t.Errorf("zero %s", z)
	}
	if subs := Subfields(f); len(subs) != 2 || subs[0] != (Subfield{"lon", StorageNumber}) || subs[1] != (Subfield{"lat", StorageNumber}) {
		t.Errorf("subfields %v", subs)
	}
	if Subfields(&Field{Type: FieldJSON}) != nil || JSONReader(&Field{Type: FieldJSON}) != nil {
		t.Error("json fields have no fixed shape")
	}
	read := JSONReader(f)
	for in, want := range map[string]string{
		`{"lat": 42.69, "lon": 23.32}`: `{"lon":23.32,"lat":42.69}`, // PostgreSQL's jsonb
		`{"lon":1,"lat":2}`:            `{"lon":1,"lat":2}`,
		`not json`:                     `not json`, // left alone
	} {
		if got := string(read(json.RawMessage(in))); got != want {
			t.Errorf("read %s = %s, want %s", in, got, want)
		}
	}
	// Options round-trip with nothing but the common ones.
	b, err := json.Marshal(Field{ID: "f1", Name: "spot", Type: FieldGeoPoint, Required: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"id":"f1","name":"spot","type":"geoPoint","system":false,"hidden":false,"presentable":false,"required":true}` {
		t.Errorf("field JSON %s", b)
	}
	var back Field
	if err := json.Unmarshal(b, &back); err != nil || back.Type != FieldGeoPoint || !back.Required {
		t.Errorf("decode %+v %v", back, err)
	}
}
