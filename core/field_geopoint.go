package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

func init() { registerFieldDef(FieldGeoPoint, geoPointDef{}) }

// GeoPoint is the value of a geoPoint field: a longitude and a latitude in
// degrees. A record holds it as its JSON, {"lon":x,"lat":y}, in a JSON
// column that is never null ({"lon":0,"lat":0} when empty); filters and
// sorts address the parts as field.lon and field.lat.
type GeoPoint struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
}

// zeroGeoPoint is the stored form of the empty point, also the column's
// default.
var zeroGeoPoint = json.RawMessage(`{"lon":0,"lat":0}`)

// JSON returns p as a record holds it. Errors: KindInvalid for a
// longitude or latitude that is not a finite number.
func (p GeoPoint) JSON() (json.RawMessage, error) {
	if !finite(p.Lon) || !finite(p.Lat) {
		return nil, Invalid(`"lon" and "lat" must be finite numbers.`)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, Invalid(`"lon" and "lat" must be finite numbers.`)
	}
	return json.RawMessage(b), nil
}

// ParseGeoPoint reads a geoPoint value as a client or Go code may give
// it: a GeoPoint, an object with numeric "lon" and "lat" (a key left out
// or null is 0), or that object as JSON text or bytes (a form sends text). nil
// and empty text are the zero point. Any other key, a part that is not a
// number, or malformed JSON is a KindInvalid error whose message can be
// shown.
func ParseGeoPoint(v any) (GeoPoint, error) {
	p, msg := parseGeoPoint(v)
	if msg != "" {
		return GeoPoint{}, Invalid("%s", msg)
	}
	return p, nil
}

// parseGeoPoint is ParseGeoPoint with the problem as a message ("" when
// there is none).
func parseGeoPoint(v any) (GeoPoint, string) {
	switch x := v.(type) {
	case nil:
		return GeoPoint{}, ""
	case GeoPoint:
		return x, ""
	case *GeoPoint:
		if x == nil {
			return GeoPoint{}, ""
		}
		return *x, ""
	case map[string]any:
		return geoPointFromMap(x)
	case string:
		return geoPointFromJSON([]byte(x))
	case json.RawMessage:
		return geoPointFromJSON(x)
	case []byte:
		return geoPointFromJSON(x)
	}
	return GeoPoint{}, geoShape
}

const geoShape = `Must be an object with numeric "lon" and "lat", such as {"lon":23.32,"lat":42.69}.`

func geoPointFromJSON(b []byte) (GeoPoint, string) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return GeoPoint{}, ""
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || dec.More() {
		return GeoPoint{}, geoShape
	}
	if m == nil {
		return GeoPoint{}, ""
	}
	return geoPointFromMap(m)
}

func geoPointFromMap(m map[string]any) (GeoPoint, string) {
	var p GeoPoint
	for k, v := range m {
		var dst *float64
		switch k {
		case "lon":
			dst = &p.Lon
		case "lat":
			dst = &p.Lat
		default:
			return GeoPoint{}, fmt.Sprintf(`Unknown key %q: a geo point has only "lon" and "lat".`, k)
		}
		if v == nil {
			continue // null, as a key left out: 0
		}
		n, ok := geoNumber(v)
		if !ok {
			return GeoPoint{}, fmt.Sprintf(`%q must be a number.`, k)
		}
		if !finite(n) {
			return GeoPoint{}, fmt.Sprintf(`%q must be a finite number.`, k)
		}
		*dst = n
	}
	return p, ""
}

// geoNumber reads one part: a number of any Go type; not text, which a
// JSON client sends only by mistake.
func geoNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// geoPointDef: a point on Earth, {"lon": [-180, 180], "lat": [-90, 90]}.
// As in PocketBase, required means not the zero point (0, 0).
type geoPointDef struct{ base }

func (geoPointDef) Storage(*Field) Storage { return StorageJSON }

func (geoPointDef) zero(*Field) any { return zeroGeoPoint }

func (geoPointDef) subfields(*Field) []Subfield {
	return []Subfield{{Name: "lon", Storage: StorageNumber}, {Name: "lat", Storage: StorageNumber}}
}

// readJSON writes a stored point as {"lon":x,"lat":y} again: SQLite keeps
// the text as written, PostgreSQL's jsonb gives {"lat": y, "lon": x}.
func (geoPointDef) readJSON(f *Field, raw json.RawMessage) json.RawMessage {
	if bytes.HasPrefix(raw, []byte(`{"lon":`)) {
		return raw
	}
	p, msg := parseGeoPoint(raw)
	if msg != "" {
		return raw
	}
	if out, err := p.JSON(); err == nil {
		return out
	}
	return raw
}

func (geoPointDef) Coerce(f *Field, v any) (any, *FieldError) {
	p, msg := parseGeoPoint(v)
	if msg != "" {
		return invalidValue(msg)
	}
	raw, err := p.JSON()
	if err != nil {
		return invalidValue(geoShape)
	}
	return raw, nil
}

func (geoPointDef) Validate(f *Field, v any) *FieldError {
	p, msg := parseGeoPoint(v)
	if msg != "" {
		return fieldError("validation_invalid_value", "%s", msg)
	}
	if p.Lon == 0 && p.Lat == 0 {
		if f.Required {
			return fieldError("validation_required", "Cannot be blank.")
		}
		return nil
	}
	if p.Lat < -90 || p.Lat > 90 {
		return fieldError("validation_invalid_latitude", "Latitude must be between -90 and 90 degrees.")
	}
	if p.Lon < -180 || p.Lon > 180 {
		return fieldError("validation_invalid_longitude", "Longitude must be between -180 and 180 degrees.")
	}
	return nil
}
