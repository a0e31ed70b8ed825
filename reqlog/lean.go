package reqlog

import (
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"

	"github.com/tortoise-dev/tortoise/core"
)

// On SQLite an entry is a row of four columns: its id, an integer that
// encodes its time (so the table's own order is time order and needs no
// index), its status, its duration, and everything else packed into one
// blob. The reason is cost. With modernc's SQLite every bound text value
// is copied into C memory, bound, unbound and freed, and every index is
// one more B-tree insert: a row of sixteen columns with four indexes cost
// about 10 µs to write on the benchmark machine, a sixth of a record read,
// where the packed row costs about a third of it (docs/benchmarks.md).
// Queries see the usual columns through a view that unpacks them with the
// SQL functions below, which the filter language's SQL reads like any
// column.

// keyEpochMS is the origin of ids' time on SQLite (2020-01-01T00:00:00Z):
// 41 bits of milliseconds from it last until 2089.
const keyEpochMS = 1577836800000

// counterBits are the low bits of a SQLite id, the ids counter.
const counterBits = 22

// sqliteCounterSpan is the ids counter's span on SQLite: 4M ids per
// millisecond, more than one process writes.
const sqliteCounterSpan = 1 << counterBits

// rowKey is the integer id of the entry created at ms with counter n.
func rowKey(ms int64, n uint64) int64 {
	return max(ms-keyEpochMS, 0)<<counterBits | int64(n&(sqliteCounterSpan-1))
}

// keyMS is the creation time of a row key, in Unix milliseconds.
func keyMS(key int64) int64 { return key>>counterBits + keyEpochMS }

// keyOfID is the row key of an id, if it is one.
func keyOfID(id string) (int64, bool) {
	ms, n, ok := parseID(id)
	if !ok || ms < keyEpochMS || n >= sqliteCounterSpan {
		return 0, false
	}
	return rowKey(ms, n), true
}

// The SQL functions the SQLite view calls: the id and the time of a row
// key, and one packed field.
const (
	fnID    = "tortoise_log_id"
	fnTime  = "tortoise_log_time"
	fnField = "tortoise_log_field"
)

// modernc.org/sqlite adds a registered function to every connection its
// driver opens later, so they are registered once, at start.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction(fnID, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		key, ok := args[0].(int64)
		if !ok {
			return nil, nil
		}
		return formatID(keyMS(key), uint64(key&(sqliteCounterSpan-1))), nil
	})
	sqlite.MustRegisterDeterministicScalarFunction(fnTime, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		key, ok := args[0].(int64)
		if !ok {
			return nil, nil
		}
		return core.FormatTime(time.UnixMilli(keyMS(key))), nil
	})
	sqlite.MustRegisterDeterministicScalarFunction(fnField, 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		b, _ := args[0].([]byte)
		i, _ := args[1].(int64)
		s, err := packedField(b, int(i))
		if err != nil {
			return nil, err
		}
		return s, nil
	})
}

// The packed fields, in their order.
const (
	pMethod = iota
	pURL
	pRoute
	pRemoteIP
	pUserIP
	pAuth
	pAuthID
	pUserAgent
	pReferer
	pError
	pDetails
	nPacked
)

// packedNames are the packed fields as the view names them (data.<key>).
var packedNames = [nPacked]string{"method", "url", "route", "remoteIP", "userIP", "auth", "authId", "userAgent", "referer", "error", "details"}

// appendPacked appends e's packed fields to b: each a uvarint length and
// its bytes, so any byte may appear in them.
func appendPacked(b []byte, e *Entry) []byte {
	for _, s := range [nPacked]string{e.Method, e.URL, e.Route, e.RemoteIP, e.UserIP, e.Auth, e.AuthID, e.UserAgent, e.Referer, e.Error, e.Details} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

var errPacked = errors.New("request log: malformed packed entry")

// unpack reads appendPacked's fields into e.
func unpack(b []byte, e *Entry) error {
	fields := [nPacked]*string{&e.Method, &e.URL, &e.Route, &e.RemoteIP, &e.UserIP, &e.Auth, &e.AuthID, &e.UserAgent, &e.Referer, &e.Error, &e.Details}
	for _, f := range fields {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return errPacked
		}
		*f = string(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	return nil
}

// packedField is the i-th packed field of b.
func packedField(b []byte, i int) (string, error) {
	if i < 0 || i >= nPacked {
		return "", fmt.Errorf("request log: no packed field %d", i)
	}
	for k := 0; ; k++ {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return "", errPacked
		}
		if k == i {
			return string(b[w : w+int(n)]), nil
		}
		b = b[w+int(n):]
	}
}
