package reqlog

import "time"

// WithClock makes o read the time from now, look for old entries every
// retainEvery and delete them chunk at a time.
func WithClock(o Options, now func() time.Time, retainEvery time.Duration, chunk int) Options {
	o.now, o.retainEvery, o.retainChunk = now, retainEvery, chunk
	return o
}

// Percentile is percentile, for tests.
var Percentile = percentile

// Bins are the histogram's bounds.
var Bins = bins

// WithIDStart makes o's ids count from start, so that two logs given the
// same start make the same ids for entries of the same millisecond.
func WithIDStart(o Options, start uint64) Options {
	o.idStart = &start
	return o
}
