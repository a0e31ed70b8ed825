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
