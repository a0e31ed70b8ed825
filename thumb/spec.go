package thumb

import (
	"strconv"

	"github.com/tortoise-dev/tortoise/core"
)

// The modes of a Spec, its optional suffix letter.
const (
	Center byte = 0   // WxH: cover WxH, crop the overflow evenly from both sides
	Top    byte = 't' // WxHt: cover WxH, keep the top (or the middle of a wide image)
	Bottom byte = 'b' // WxHb: cover WxH, keep the bottom (or the middle of a wide image)
	Fit    byte = 'f' // WxHf: fit inside WxH keeping the aspect ratio, no crop
)

// MaxSide is the largest thumbnail width or height, asked for or derived
// from the aspect ratio (0xH, Wx0): a 4096x4096 RGBA thumbnail is 64 MiB.
const MaxSide = 4096

// Spec is one thumbnail size, PocketBase's "thumbs" field option and ?thumb=
// query value. W or H zero (never both) means "derive it from the aspect
// ratio", and then Mode does not matter.
type Spec struct {
	W, H int
	Mode byte // Center, Top, Bottom or Fit
}

// ParseSpec parses a thumbnail size in PocketBase's forms (the regular
// expression ^(\d+)x(\d+)(t|b|f)?$):
//
//	WxH   100x300   resize and crop to WxH from the center
//	WxHt  100x300t  resize and crop to WxH from the top
//	WxHb  100x300b  resize and crop to WxH from the bottom
//	WxHf  100x300f  fit inside WxH keeping the aspect ratio, without cropping
//	0xH   0x300     resize to height H keeping the aspect ratio
//	Wx0   100x0     resize to width W keeping the aspect ratio
//
// It returns a KindInvalid *core.Error for anything else, for 0x0 (with or
// without a suffix) and for a side over MaxSide.
func ParseSpec(s string) (Spec, error) {
	bad := func(why string) (Spec, error) {
		return Spec{}, core.Invalid("Invalid thumb size %q: %s.", s, why)
	}
	w, rest, ok := number(s)
	if !ok || len(rest) == 0 || rest[0] != 'x' {
		return bad("expected WxH, WxHt, WxHb or WxHf, e.g. 100x300")
	}
	h, rest, ok := number(rest[1:])
	if !ok {
		return bad("expected WxH, WxHt, WxHb or WxHf, e.g. 100x300")
	}
	var spec Spec
	switch rest {
	case "":
	case "t", "b", "f":
		spec.Mode = rest[0]
	default:
		return bad("the suffix must be t, b or f")
	}
	if w > MaxSide || h > MaxSide {
		return bad("width and height must be at most " + strconv.Itoa(MaxSide))
	}
	spec.W, spec.H = w, h
	if err := spec.check(); err != nil {
		return bad("width and height cannot both be zero")
	}
	return spec, nil
}

// number reads the leading ASCII digits of s. It stops counting past
// MaxSide so that a long run of digits cannot overflow, and reports false
// when there is no digit.
func number(s string) (n int, rest string, ok bool) {
	i := 0
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		if n <= MaxSide {
			n = n*10 + int(s[i]-'0')
		}
	}
	return n, s[i:], i > 0
}

// String formats s the way ParseSpec reads it, e.g. "100x300t".
func (s Spec) String() string {
	str := strconv.Itoa(s.W) + "x" + strconv.Itoa(s.H)
	if s.Mode != Center {
		str += string(rune(s.Mode))
	}
	return str
}

// check applies ParseSpec's rules to a Spec built by hand.
func (s Spec) check() error {
	switch {
	case s.W < 0 || s.H < 0 || s.W > MaxSide || s.H > MaxSide:
		return core.Invalid("Invalid thumb size %s: width and height must be between 0 and %d.", s, MaxSide)
	case s.W == 0 && s.H == 0:
		return core.Invalid("Invalid thumb size %s: width and height cannot both be zero.", s)
	case s.Mode != Center && s.Mode != Top && s.Mode != Bottom && s.Mode != Fit:
		return core.Invalid("Invalid thumb mode %q: it must be t, b, f or none.", s.Mode)
	}
	return nil
}
