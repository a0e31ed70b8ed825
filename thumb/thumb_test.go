package thumb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"runtime"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
)

var (
	red         = color.RGBA{255, 0, 0, 255}
	blue        = color.RGBA{0, 0, 255, 255}
	transparent = color.RGBA{}
)

// halves draws a w x h image whose top half is a and bottom half b, or,
// when leftRight, whose left half is a and right half b.
func halves(w, h int, leftRight bool, a, b color.RGBA) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	second := image.Rect(0, h/2, w, h)
	if leftRight {
		second = image.Rect(w/2, 0, w, h)
	}
	draw.Draw(m, m.Rect, image.NewUniform(a), image.Point{}, draw.Src)
	draw.Draw(m, second, image.NewUniform(b), image.Point{}, draw.Src)
	return m
}

// encode writes m in format: png, jpeg or gif (in the palette of a and b).
func encode(t testing.TB, format string, m *image.RGBA, a, b color.RGBA) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, m)
	case "jpeg":
		err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95})
	case "gif":
		p := image.NewPaletted(m.Rect, color.Palette{a, b})
		draw.Draw(p, p.Rect, m, image.Point{}, draw.Src)
		err = gif.Encode(&buf, p, nil)
	default:
		t.Fatalf("no encoder for %s", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// thumbnail runs Make on data and decodes what it wrote, checking that the
// returned media type is the written format.
func thumbnail(t *testing.T, data []byte, spec string) (image.Image, string) {
	t.Helper()
	s, err := ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ct, err := Make(&out, bytes.NewReader(data), s)
	if err != nil {
		t.Fatalf("Make(%s): %v", spec, err)
	}
	m, format, err := image.Decode(&out)
	if err != nil {
		t.Fatalf("decode the thumbnail: %v", err)
	}
	if ct != "image/"+format {
		t.Fatalf("Make returned %q for a %s thumbnail", ct, format)
	}
	return m, ct
}

// probe is a pixel a thumbnail must have; negative coordinates count from
// the right or bottom edge (-1 is the last column or row).
type probe struct {
	x, y int
	c    color.RGBA
}

func checkPixels(t *testing.T, m image.Image, tol int, probes ...probe) {
	t.Helper()
	b := m.Bounds()
	for _, p := range probes {
		x, y := p.x, p.y
		if x < 0 {
			x += b.Dx()
		}
		if y < 0 {
			y += b.Dy()
		}
		got := color.RGBAModel.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.RGBA)
		if !near(got, p.c, tol) {
			t.Errorf("pixel (%d,%d) = %v, want %v", p.x, p.y, got, p.c)
		}
	}
}

func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) bool { return abs(int(x)-int(y)) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && d(a.A, b.A)
}

func abs(n int) int { return max(n, -n) }

// corners says the four corners of a thumbnail: top-left, top-right,
// bottom-left, bottom-right.
func corners(tl, tr, bl, br color.RGBA) []probe {
	return []probe{{0, 0, tl}, {-1, 0, tr}, {0, -1, bl}, {-1, -1, br}}
}

func TestMakeModes(t *testing.T) {
	t.Parallel()
	// tall: 100x200, red over blue. wide: 200x100, red left of blue.
	tall := encode(t, "png", halves(100, 200, false, red, blue), red, blue)
	wide := encode(t, "png", halves(200, 100, true, red, blue), red, blue)
	tests := []struct {
		name, spec string
		src        []byte
		w, h       int
		probes     []probe
	}{
		{"center crop", "50x50", tall, 50, 50, corners(red, red, blue, blue)},
		{"top crop", "50x50t", tall, 50, 50, corners(red, red, red, red)},
		{"bottom crop", "50x50b", tall, 50, 50, corners(blue, blue, blue, blue)},
		{"top crop, flat box", "100x20t", tall, 100, 20, corners(red, red, red, red)},
		{"bottom crop, flat box", "100x20b", tall, 100, 20, corners(blue, blue, blue, blue)},
		{"same aspect ratio", "50x100", tall, 50, 100, corners(red, red, blue, blue)},
		{"enlarging crop", "300x300", tall, 300, 300, corners(red, red, blue, blue)},
		{"enlarging top crop", "300x300t", tall, 300, 300, corners(red, red, red, red)},
		{"width only", "50x0", tall, 50, 100, corners(red, red, blue, blue)},
		{"height only", "0x50", tall, 25, 50, corners(red, red, blue, blue)},
		{"enlarging height only", "0x400", tall, 200, 400, corners(red, red, blue, blue)},
		{"fit", "40x40f", tall, 20, 40, corners(red, red, blue, blue)},
		{"fit in a flat box", "80x10f", tall, 5, 10, nil},
		{"fit never enlarges", "1000x1000f", tall, 100, 200, corners(red, red, blue, blue)},
		{"unscaled crop", "100x100t", tall, 100, 100, corners(red, red, red, red)},
		// A wide image loses its sides whatever the mode: t and b only
		// choose the rows kept.
		{"wide, center crop", "50x50", wide, 50, 50, corners(red, blue, red, blue)},
		{"wide, top crop", "50x50t", wide, 50, 50, corners(red, blue, red, blue)},
		{"wide, bottom crop", "50x50b", wide, 50, 50, corners(red, blue, red, blue)},
		{"wide, tall box", "10x100b", wide, 10, 100, corners(red, blue, red, blue)},
		{"wide, fit", "50x50f", wide, 50, 25, corners(red, blue, red, blue)},
		{"wide, height only", "0x50", wide, 100, 50, corners(red, blue, red, blue)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, ct := thumbnail(t, tc.src, tc.spec)
			if ct != "image/png" {
				t.Errorf("content type %q, want image/png", ct)
			}
			if got := m.Bounds().Size(); got != image.Pt(tc.w, tc.h) {
				t.Fatalf("%s: size %v, want %dx%d", tc.spec, got, tc.w, tc.h)
			}
			checkPixels(t, m, 2, tc.probes...)
		})
	}
}

func TestLayout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		w, h int
		spec string
		crop image.Rectangle
		size image.Point
	}{
		{1000, 500, "100x100", image.Rect(250, 0, 750, 500), image.Pt(100, 100)},
		{1000, 500, "100x100t", image.Rect(250, 0, 750, 500), image.Pt(100, 100)},
		{500, 1000, "100x100", image.Rect(0, 250, 500, 750), image.Pt(100, 100)},
		{500, 1000, "100x100t", image.Rect(0, 0, 500, 500), image.Pt(100, 100)},
		{500, 1000, "100x100b", image.Rect(0, 500, 500, 1000), image.Pt(100, 100)},
		{501, 1000, "100x100", image.Rect(0, 249, 501, 750), image.Pt(100, 100)}, // 501x501
		{1000, 500, "100x100f", image.Rect(0, 0, 1000, 500), image.Pt(100, 50)},
		{1000, 500, "2000x2000f", image.Rect(0, 0, 1000, 500), image.Pt(1000, 500)},
		{3, 1000, "0x10", image.Rect(0, 0, 3, 1000), image.Pt(1, 10)}, // never 0 wide
		{1000, 3, "10x0", image.Rect(0, 0, 1000, 3), image.Pt(10, 1)},
		{1000, 1, "100x100", image.Rect(499, 0, 500, 1), image.Pt(100, 100)},
		{3, 2, "0x3", image.Rect(0, 0, 3, 2), image.Pt(5, 3)}, // 4.5 rounds up, like PocketBase
	}
	for _, tc := range tests {
		s, err := ParseSpec(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		crop, size, err := layout(tc.w, tc.h, s)
		if err != nil || crop != tc.crop || size != tc.size {
			t.Errorf("layout(%d, %d, %s) = %v, %v, %v; want %v, %v", tc.w, tc.h, tc.spec, crop, size, err, tc.crop, tc.size)
		}
	}
}

func TestMakeFormats(t *testing.T) {
	t.Parallel()
	src := halves(40, 80, false, red, blue)
	webp := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name) // 40x80, red over blue, made with cwebp
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		data []byte
		ct   string
		tol  int
	}{
		{"png", encode(t, "png", src, red, blue), "image/png", 2},
		{"jpeg", encode(t, "jpeg", src, red, blue), "image/jpeg", 24},
		{"gif", encode(t, "gif", src, red, blue), "image/gif", 0},
		{"webp lossless", webp("halves-lossless.webp"), "image/png", 2},
		{"webp lossy", webp("halves-lossy.webp"), "image/png", 24},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range []struct {
				spec   string
				w, h   int
				probes []probe
			}{
				{"20x20", 20, 20, corners(red, red, blue, blue)},
				{"20x20t", 20, 20, corners(red, red, red, red)},
				{"20x20b", 20, 20, corners(blue, blue, blue, blue)},
				{"10x0", 10, 20, corners(red, red, blue, blue)},
			} {
				m, ct := thumbnail(t, tc.data, c.spec)
				if ct != tc.ct {
					t.Errorf("%s: content type %q, want %q", c.spec, ct, tc.ct)
				}
				if got := m.Bounds().Size(); got != image.Pt(c.w, c.h) {
					t.Fatalf("%s: size %v, want %dx%d", c.spec, got, c.w, c.h)
				}
				checkPixels(t, m, tc.tol, c.probes...)
				if p, ok := m.(*image.Paletted); tc.name == "gif" && (!ok || len(p.Palette) != 2) {
					t.Errorf("%s: GIF thumbnail %T, want the source's 2-colour palette", c.spec, m)
				}
			}
		})
	}
}

func TestMakeGIF(t *testing.T) {
	t.Parallel()
	t.Run("first frame, transparency kept", func(t *testing.T) {
		t.Parallel()
		pal := color.Palette{transparent, red, blue}
		first := image.NewPaletted(image.Rect(0, 0, 40, 40), pal)
		draw.Draw(first, image.Rect(20, 0, 40, 40), image.NewUniform(red), image.Point{}, draw.Src) // left half transparent
		second := image.NewPaletted(first.Rect, pal)
		draw.Draw(second, second.Rect, image.NewUniform(blue), image.Point{}, draw.Src)
		var buf bytes.Buffer
		if err := gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{first, second}, Delay: []int{10, 10}}); err != nil {
			t.Fatal(err)
		}
		m, _ := thumbnail(t, buf.Bytes(), "10x10")
		checkPixels(t, m, 0, corners(transparent, red, transparent, red)...)
	})
	t.Run("frame smaller than the screen", func(t *testing.T) {
		t.Parallel()
		frame := image.NewPaletted(image.Rect(10, 20, 30, 60), color.Palette{red, blue})
		draw.Draw(frame, image.Rect(10, 40, 30, 60), image.NewUniform(blue), image.Point{}, draw.Src)
		var buf bytes.Buffer
		g := &gif.GIF{Image: []*image.Paletted{frame}, Delay: []int{0},
			Config: image.Config{Width: 50, Height: 80, ColorModel: frame.Palette}}
		if err := gif.EncodeAll(&buf, g); err != nil {
			t.Fatal(err)
		}
		m, _ := thumbnail(t, buf.Bytes(), "10x10b")
		checkPixels(t, m, 0, corners(blue, blue, blue, blue)...)
		m, _ = thumbnail(t, buf.Bytes(), "0x20")
		if got := m.Bounds().Size(); got != image.Pt(10, 20) {
			t.Errorf("size %v, want 10x20 (the frame, as PocketBase)", got)
		}
		checkPixels(t, m, 0, corners(red, red, blue, blue)...)
	})
}

// withOrientation inserts an EXIF APP1 segment with the orientation tag o
// right after a JPEG's SOI marker.
func withOrientation(jpg []byte, o int, order binary.AppendByteOrder) []byte {
	tiff := []byte("MM\x00\x2a")
	if order == binary.LittleEndian {
		tiff = []byte("II\x2a\x00")
	}
	tiff = order.AppendUint32(tiff, 8)      // IFD0 right after the header
	tiff = order.AppendUint16(tiff, 2)      // two entries
	tiff = order.AppendUint16(tiff, 0x010F) // Make, ASCII, 4 bytes: "Go\x00\x00"
	tiff = order.AppendUint16(tiff, 2)
	tiff = order.AppendUint32(tiff, 4)
	tiff = append(tiff, "Go\x00\x00"...)
	tiff = order.AppendUint16(tiff, 0x0112) // Orientation, SHORT, 1
	tiff = order.AppendUint16(tiff, 3)
	tiff = order.AppendUint32(tiff, 1)
	tiff = order.AppendUint16(tiff, uint16(o))
	tiff = append(tiff, 0, 0, 0, 0, 0, 0) // value padding, no next IFD
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := binary.BigEndian.AppendUint16([]byte{0xFF, 0xE1}, uint16(2+len(seg)))
	app1 = append(app1, seg...)
	return append(append(append([]byte(nil), jpg[:2]...), app1...), jpg[2:]...)
}

func TestMakeEXIFOrientation(t *testing.T) {
	t.Parallel()
	// Stored 80x40, red left of blue. Each orientation shows it 40x80 (5-8)
	// or 80x40 (1-4) with red on one side, listed as the side it shows on.
	stored := encode(t, "jpeg", halves(80, 40, true, red, blue), red, blue)
	tests := []struct {
		o       int
		redSide string
	}{
		{1, "left"}, {2, "right"}, {3, "right"}, {4, "left"},
		{5, "top"}, {6, "top"}, {7, "bottom"}, {8, "bottom"},
	}
	for _, tc := range tests {
		for _, order := range []binary.AppendByteOrder{binary.BigEndian, binary.LittleEndian} {
			data := withOrientation(stored, tc.o, order)
			if h := readJPEGHeader(data); h.orientation != tc.o {
				t.Fatalf("orientation %d read as %d", tc.o, h.orientation)
			}
			m, _ := thumbnail(t, data, "0x20")
			want := image.Pt(40, 20)
			if tc.o >= 5 {
				want = image.Pt(10, 20)
			}
			if got := m.Bounds().Size(); got != want {
				t.Fatalf("orientation %d: size %v, want %v", tc.o, got, want)
			}
			var p []probe
			switch tc.redSide {
			case "left":
				p = corners(red, blue, red, blue)
			case "right":
				p = corners(blue, red, blue, red)
			case "top":
				p = corners(red, red, blue, blue)
			case "bottom":
				p = corners(blue, blue, red, red)
			}
			checkPixels(t, m, 40, p...)
		}
		// The crop happens in the shown orientation: "t" keeps the top.
		if tc.o >= 5 {
			m, _ := thumbnail(t, withOrientation(stored, tc.o, binary.BigEndian), "10x10t")
			c := red
			if tc.redSide == "bottom" {
				c = blue
			}
			checkPixels(t, m, 40, corners(c, c, c, c)...)
		}
	}
}

// TestOrientCrop checks that cropping the stored image at storedRect and
// then turning it equals turning the whole image and then cropping, for
// every orientation: the crop-then-turn shortcut Make takes is exact.
func TestOrientCrop(t *testing.T) {
	t.Parallel()
	src := image.NewRGBA(image.Rect(0, 0, 7, 5))
	for i := range src.Pix {
		src.Pix[i] = uint8(i)
	}
	for o := 1; o <= 8; o++ {
		whole := orient(src, o)
		b := whole.Rect
		for _, r := range []image.Rectangle{b, image.Rect(0, 0, 1, 1), image.Rect(1, 2, 3, 5), image.Rect(b.Dx()-2, b.Dy()-3, b.Dx(), b.Dy())} {
			sr := storedRect(o, src.Rect, r)
			part := image.NewRGBA(image.Rectangle{Max: sr.Size()})
			draw.Draw(part, part.Rect, src, sr.Min, draw.Src)
			got := orient(part, o)
			want := image.NewRGBA(image.Rectangle{Max: r.Size()})
			draw.Draw(want, want.Rect, whole, r.Min, draw.Src)
			if !bytes.Equal(got.Pix, want.Pix) || got.Rect != want.Rect {
				t.Errorf("orientation %d, rect %v: crop-then-turn differs from turn-then-crop", o, r)
			}
		}
	}
}

// pngHeader is a PNG signature and an IHDR chunk claiming a w x h RGBA
// image, with nothing after it.
func pngHeader(w, h uint32) []byte {
	chunk := binary.BigEndian.AppendUint32([]byte("IHDR"), w)
	chunk = binary.BigEndian.AppendUint32(chunk, h)
	chunk = append(chunk, 8, 6, 0, 0, 0) // 8 bits, RGBA, deflate, no filter, no interlace
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

// jpegFrame is a JPEG's SOI, a frame header (baseline or progressive)
// claiming a w x h image with three components of the given sampling
// factors (0x11 each for 4:4:4; 0x22, 0x11, 0x11 for 4:2:0), and the start
// of a scan header, where image.DecodeConfig stops reading.
func jpegFrame(w, h uint16, progressive bool, sampling [3]byte) []byte {
	sof := byte(0xC0)
	if progressive {
		sof = 0xC2
	}
	b := []byte{0xFF, 0xD8, 0xFF, sof, 0, 17, 8}
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 3)
	for i, s := range sampling {
		b = append(b, byte(i+1), s, 0)
	}
	return append(b, 0xFF, 0xDA, 0, 12)
}

func TestMakeRefusesHugeImages(t *testing.T) {
	// Not parallel: it measures what Make allocates.
	s444 := [3]byte{0x11, 0x11, 0x11}
	vp8l := func(w, h uint32) []byte { // a lossless WebP header
		b := []byte("RIFF\x12\x00\x00\x00WEBPVP8L\x05\x00\x00\x00\x2f")
		b = binary.LittleEndian.AppendUint32(b, (w-1)|(h-1)<<14)
		return append(b, 0) // the chunk's padding to an even size
	}
	gifHeader := []byte("GIF89a\xff\xff\xff\xff\x00\x00\x00") // 65535x65535, no colour table
	tests := []struct {
		name string
		data []byte
	}{
		{"png 100000x100000", pngHeader(100000, 100000)},
		{"png 10000x5001 (50,010,000 pixels)", pngHeader(10000, 5001)},
		{"jpeg 60000x60000", jpegFrame(60000, 60000, false, s444)},
		// 36 Mpx: under MaxPixels, but progressive 4:4:4 needs ~15 bytes a pixel.
		{"progressive jpeg 6000x6000", jpegFrame(6000, 6000, true, s444)},
		{"gif 65535x65535", gifHeader},
		{"webp 16384x16384", vp8l(16384, 16384)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Make(io.Discard, bytes.NewReader(tc.data), Spec{W: 100, H: 100})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) || core.KindOf(err) != core.KindTooLarge {
				t.Fatalf("Make: %v, want ErrTooLarge of kind too large", err)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("refusing allocated %d bytes", n)
			}
		})
	}

	// The same frame header, baseline: the size check lets it through and
	// the missing image data then fails the decode.
	_, err := Make(io.Discard, bytes.NewReader(jpegFrame(6000, 6000, false, s444)), Spec{W: 100, H: 100})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("baseline 6000x6000 header: %v, want ErrUnsupported", err)
	}

	// A wide image's thumbnail 0xH would be wider than MaxSide.
	_, err = Make(io.Discard, bytes.NewReader(encode(t, "png", halves(MaxSide+1, 1, true, red, blue), red, blue)), Spec{H: 2})
	if !errors.Is(err, ErrTooLarge) || core.KindOf(err) != core.KindTooLarge {
		t.Errorf("0x2 of a %dx1 image: %v, want ErrTooLarge", MaxSide+1, err)
	}
}

func TestFrameBytesPerPixel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		progressive bool
		sampling    [3]byte
		want        float64
	}{
		{false, [3]byte{0x11, 0x11, 0x11}, 3},
		{false, [3]byte{0x22, 0x11, 0x11}, 1.5},
		{true, [3]byte{0x11, 0x11, 0x11}, 15},
		{true, [3]byte{0x22, 0x11, 0x11}, 7.5},
	}
	for _, tc := range tests {
		h := readJPEGHeader(jpegFrame(100, 100, tc.progressive, tc.sampling))
		if h.bytesPerPx != tc.want || h.orientation != 1 {
			t.Errorf("progressive %v, sampling %x: %v, want %v bytes a pixel", tc.progressive, tc.sampling, h, tc.want)
		}
	}
}

func TestMakeRejectsNonImages(t *testing.T) {
	t.Parallel()
	good := encode(t, "png", halves(40, 40, false, red, blue), red, blue)
	badCRC := append([]byte(nil), good...)
	badCRC[29] ^= 1 // inside IHDR's CRC
	tests := map[string][]byte{
		"empty":         {},
		"text":          []byte("hello, world\n"),
		"pdf":           []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"),
		"png signature": good[:8],
		"bad crc":       badCRC,
		"truncated png": good[:len(good)/2],
		"truncated jpeg": func() []byte {
			j := encode(t, "jpeg", halves(40, 40, false, red, blue), red, blue)
			return j[:len(j)/2]
		}(),
		"zero-sized png": pngHeader(0, 10),
		"bmp":            append([]byte("BM"), make([]byte, 60)...),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			ct, err := Make(&out, bytes.NewReader(data), Spec{W: 10, H: 10})
			if !errors.Is(err, ErrUnsupported) || core.KindOf(err) != core.KindInvalid {
				t.Fatalf("Make = %q, %v; want ErrUnsupported of kind invalid", ct, err)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %d bytes", out.Len())
			}
		})
	}
}

func TestMakeBadSpec(t *testing.T) {
	t.Parallel()
	png := encode(t, "png", halves(40, 40, false, red, blue), red, blue)
	for _, s := range []Spec{{}, {W: MaxSide + 1, H: 1}, {W: 1, H: 1, Mode: 'z'}} {
		if _, err := Make(io.Discard, bytes.NewReader(png), s); core.KindOf(err) != core.KindInvalid {
			t.Errorf("Make with %+v: %v, want an invalid error", s, err)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestMakeWriteError(t *testing.T) {
	t.Parallel()
	png := encode(t, "png", halves(40, 40, false, red, blue), red, blue)
	_, err := Make(failingWriter{}, bytes.NewReader(png), Spec{W: 10, H: 10})
	if core.KindOf(err) != core.KindInternal || err == nil {
		t.Fatalf("Make to a failing writer: %v, want an internal error", err)
	}
}

func TestSupported(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"image/png":                   true,
		"image/jpeg":                  true,
		"image/jpg":                   true,
		"image/gif":                   true,
		"image/webp":                  true,
		"IMAGE/PNG":                   true,
		"image/png; charset=binary":   true,
		"image/svg+xml":               false, // a document, not pixels
		"image/bmp":                   false,
		"image/avif":                  false,
		"image/tiff":                  false,
		"application/pdf":             false,
		"application/octet-stream":    false,
		"text/plain; charset=utf-8":   false,
		"":                            false,
		"image/png; charset":          false, // malformed
		"imagepng":                    false,
		"image/pngx":                  false,
		"application/x-image/png-not": false,
	}
	for ct, want := range tests {
		if got := Supported(ct); got != want {
			t.Errorf("Supported(%q) = %v, want %v", ct, got, want)
		}
	}
}

func FuzzReadJPEGHeader(f *testing.F) {
	f.Add(jpegFrame(10, 10, true, [3]byte{0x22, 0x11, 0x11}))
	f.Add(withOrientation([]byte{0xFF, 0xD8, 0xFF, 0xD9}, 6, binary.LittleEndian))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xFF, 0xE1, 0x00, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		h := readJPEGHeader(b)
		if h.orientation < 1 || h.orientation > 8 || h.bytesPerPx < 0 {
			t.Fatalf("readJPEGHeader = %+v", h)
		}
	})
}

func FuzzMake(f *testing.F) {
	m := halves(6, 4, false, red, blue)
	for _, format := range []string{"png", "jpeg", "gif"} {
		f.Add(encode(f, format, m, red, blue), "3x3t")
	}
	f.Add(withOrientation(encode(f, "jpeg", m, red, blue), 8, binary.BigEndian), "0x5")
	f.Add(pngHeader(1<<30, 1<<30), "1x1")
	for _, name := range []string{"halves-lossless.webp", "halves-lossy.webp"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "5x5f")
	}
	f.Fuzz(func(t *testing.T, data []byte, spec string) {
		s, err := ParseSpec(spec)
		if err != nil || s.W > 64 || s.H > 64 {
			return
		}
		var out bytes.Buffer
		ct, err := Make(&out, bytes.NewReader(data), s)
		if err != nil {
			if k := core.KindOf(err); k != core.KindInvalid && k != core.KindTooLarge {
				t.Fatalf("Make: %v (kind %v)", err, k)
			}
			return
		}
		cfg, format, err := image.DecodeConfig(&out)
		if err != nil || ct != "image/"+format || cfg.Width > MaxSide || cfg.Height > MaxSide {
			t.Fatalf("Make wrote %s (%q): %+v, %v", format, ct, cfg, err)
		}
	})
}

func BenchmarkMake(b *testing.B) {
	// A 12-megapixel photo-sized JPEG to a 100x100 center crop.
	m := image.NewRGBA(image.Rect(0, 0, 4000, 3000))
	for y := range 3000 {
		for x := range 4000 {
			i := m.PixOffset(x, y)
			m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = uint8(x), uint8(y), uint8(x+y), 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Make(io.Discard, bytes.NewReader(data), Spec{W: 100, H: 100}); err != nil {
			b.Fatal(err)
		}
	}
}
