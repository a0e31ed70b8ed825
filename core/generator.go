package core

import (
	"fmt"
	"strconv"
	"strings"
)

// generator produces random strings from the small pattern language of
// autogeneratePattern: literal characters and character classes with an
// optional repeat count, such as "[a-z0-9]{15}" or "inv_[0-9]{8}".
type generator struct {
	parts []genPart
}

type genPart struct {
	alphabet string // one character for a literal
	count    int
}

const maxGenerated = 255

func newGenerator(pattern string) (*generator, error) {
	g := &generator{}
	total := 0
	for i := 0; i < len(pattern); {
		var p genPart
		switch c := pattern[i]; c {
		case '[':
			end := strings.IndexByte(pattern[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed character class in %q", pattern)
			}
			alpha, err := expandClass(pattern[i+1 : i+end])
			if err != nil {
				return nil, err
			}
			p.alphabet = alpha
			i += end + 1
		case '\\':
			if i+1 >= len(pattern) {
				return nil, fmt.Errorf("trailing backslash in %q", pattern)
			}
			p.alphabet = pattern[i+1 : i+2]
			i += 2
		case '^', '$':
			i++
			continue
		case '{', '}', '(', ')', '*', '+', '?', '|', '.':
			return nil, fmt.Errorf("unsupported %q in generator pattern %q", c, pattern)
		default:
			p.alphabet = pattern[i : i+1]
			i++
		}
		p.count = 1
		if i < len(pattern) && pattern[i] == '{' {
			end := strings.IndexByte(pattern[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed repeat in %q", pattern)
			}
			n, err := strconv.Atoi(pattern[i+1 : i+end])
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad repeat count in %q", pattern)
			}
			p.count = n
			i += end + 1
		}
		total += p.count
		if total > maxGenerated {
			return nil, fmt.Errorf("pattern %q generates more than %d characters", pattern, maxGenerated)
		}
		g.parts = append(g.parts, p)
	}
	if total == 0 {
		return nil, fmt.Errorf("pattern %q generates nothing", pattern)
	}
	return g, nil
}

func expandClass(class string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(class); i++ {
		if i+2 < len(class) && class[i+1] == '-' {
			lo, hi := class[i], class[i+2]
			if lo > hi {
				return "", fmt.Errorf("bad range %c-%c", lo, hi)
			}
			for c := lo; c <= hi; c++ {
				b.WriteByte(c)
				if c == 255 {
					break
				}
			}
			i += 2
			continue
		}
		b.WriteByte(class[i])
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("empty character class")
	}
	return b.String(), nil
}

func (g *generator) generate() string {
	var b strings.Builder
	for _, p := range g.parts {
		if len(p.alphabet) == 1 {
			b.WriteString(strings.Repeat(p.alphabet, p.count))
			continue
		}
		b.WriteString(RandomString(p.count, p.alphabet))
	}
	return b.String()
}

// CheckGeneratorPattern reports why pattern cannot generate values, or nil.
func CheckGeneratorPattern(pattern string) error {
	_, err := newGenerator(pattern)
	return err
}

// Generate returns a random value for an autogeneratePattern such as
// "[a-z0-9]{15}"; a pattern that does not parse yields a new id.
func Generate(pattern string) string {
	if pattern == "[a-z0-9]{15}" {
		return NewID()
	}
	g, err := newGenerator(pattern)
	if err != nil {
		return NewID()
	}
	return g.generate()
}
