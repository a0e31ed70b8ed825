package sqlite

import (
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"modernc.org/sqlite"

	"github.com/tortoise-dev/tortoise/core"
)

// SQL functions Tortoise's SQL needs beyond SQLite's own. modernc.org/sqlite
// adds a registered function to every connection its driver opens, so they
// are registered once, before any connection exists. The math functions
// geoDistance needs (sin, cos, asin, sqrt) are built into the SQLite that
// modernc.org/sqlite ships.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction(core.SQLiteNumberText, 1, numberText)
}

// numberText is core.FormatNumber as SQL: a number (REAL or INTEGER, or
// text that reads as one) as the filter language's text, NULL for NULL.
func numberText(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	var x float64
	switch v := args[0].(type) {
	case nil:
		return nil, nil
	case float64:
		x = v
	case int64:
		x = float64(v)
	case string:
		return numberFromText(v)
	case []byte:
		return numberFromText(string(v))
	default:
		return nil, fmt.Errorf("%s: unsupported value of type %T", core.SQLiteNumberText, v)
	}
	return core.FormatNumber(x), nil
}

func numberFromText(s string) (driver.Value, error) {
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return nil, nil
	}
	return core.FormatNumber(x), nil
}
