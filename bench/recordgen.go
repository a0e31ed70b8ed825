package main

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// words feed the generated titles and bodies: plain lowercase ASCII, so the
// records need no JSON escaping and their size is predictable.
var words = strings.Fields(`
	account action address agent alpha amber anchor answer archive arrow
	audit autumn balance banner basket beacon border branch bridge bronze
	budget bundle cabin canvas carbon castle channel circle client cloud
	cobalt column comet copper corner cotton credit crystal current delta
	desert design detail engine estate event falcon feature field filter
	forest format garden glacier granite harbor horizon island journal
	kernel ladder lantern ledger letter marble market meadow metric mirror
	module motion needle network number ocean orbit packet palace panel
	pepper pilot planet portal quartz query record region report river
	rocket saddle sample schema signal silver socket spring stone summer
	symbol table thread timber token tower trail update valley vector
	velvet window winter yellow zenith`)

// appendRecord appends a realistic record body of about 200 bytes to dst:
//
//	{"title":"Harbor ledger signal #17","body":"...","score":512.37,"active":true}
//
// tag makes the title unique when callers pass unique tags.
func appendRecord(dst []byte, rng *rand.Rand, tag uint64) []byte {
	word := func() string { return words[rng.IntN(len(words))] }
	dst = append(dst, `{"title":"`...)
	w := word()
	dst = append(dst, w[0]-'a'+'A')
	dst = append(dst, w[1:]...)
	for range 2 + rng.IntN(3) {
		dst = append(dst, ' ')
		dst = append(dst, word()...)
	}
	dst = append(dst, " #"...)
	dst = strconv.AppendUint(dst, tag, 10)

	dst = append(dst, `","body":"`...)
	start := len(dst)
	target := 100 + rng.IntN(30)
	for len(dst)-start < target {
		if len(dst) > start {
			dst = append(dst, ' ')
		}
		dst = append(dst, word()...)
	}
	dst = append(dst, '.')

	dst = append(dst, `","score":`...)
	score := math.Round(rng.Float64()*100000) / 100
	dst = strconv.AppendFloat(dst, score, 'f', -1, 64)
	dst = append(dst, `,"active":`...)
	dst = strconv.AppendBool(dst, rng.IntN(4) != 0)
	return append(dst, '}')
}
