package main

import (
	"math"
	"math/bits"
	"time"
)

// The histogram is log-linear like HdrHistogram: values below subCount get
// one bucket each, and every power-of-two range above is split into
// halfCount equal buckets, so a bucket is never wider than 1/halfCount
// (0.8%) of the values it holds. Recording is an index computation and an
// increment: no allocation, no lock (each worker owns one).
const (
	subBits    = 8
	subCount   = 1 << subBits
	halfCount  = subCount / 2
	numBuckets = (63 - subBits + 2) * halfCount // covers every non-negative int64
)

// histogram records latencies in nanoseconds.
type histogram struct {
	counts [numBuckets]uint64
	total  uint64
	sum    int64
	min    int64
	max    int64
}

func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	if u < subCount {
		return int(u)
	}
	e := bits.Len64(u) - subBits
	return e*halfCount + int(u>>e)
}

// bucketLow is the smallest value that falls in bucket i.
func bucketLow(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	e := i/halfCount - 1
	m := i - e*halfCount
	return int64(m) << e
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i+1 >= numBuckets {
		return math.MaxInt64
	}
	return bucketLow(i+1) - 1
}

func (h *histogram) record(d time.Duration) {
	v := int64(d)
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.counts[bucketOf(v)]++
	h.total++
	h.sum += v
}

func (h *histogram) merge(o *histogram) {
	if o.total == 0 {
		return
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
}

// quantile returns the latency below which a fraction q of the recorded
// values fall: the middle of the bucket holding that rank, clamped to the
// exact minimum and maximum. It returns 0 for an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketLow(i), bucketHigh(i)
			v := lo + (hi-lo)/2
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / int64(h.total))
}
