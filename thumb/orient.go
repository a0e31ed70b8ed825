package thumb

import "image"

// An EXIF orientation o (1 to 8) says how to turn the stored pixels to show
// them: 1 as stored, 2 mirrored, 3 turned 180°, 4 flipped, 5 transposed,
// 6 turned 90° clockwise, 7 transversed, 8 turned 90° counter-clockwise.
// Orientations 5 to 8 swap width and height.

// swaps reports whether orientation o swaps width and height.
func swaps(o int) bool { return o >= 5 }

// toStored maps a point of the shown (oriented) image to the stored one,
// whose size is sw x sh. With k = 0 it maps pixel-edge coordinates, so a
// rectangle maps by its corners; with k = 1 it maps a pixel's index to the
// index of the stored pixel shown there.
func toStored(o, sw, sh, x, y, k int) (int, int) {
	switch o {
	case 2:
		return sw - k - x, y
	case 3:
		return sw - k - x, sh - k - y
	case 4:
		return x, sh - k - y
	case 5:
		return y, x
	case 6:
		return y, sh - k - x
	case 7:
		return sw - k - y, sh - k - x
	case 8:
		return sw - k - y, x
	}
	return x, y
}

// storedRect maps r, a rectangle of the shown image, to the stored image
// whose bounds are b.
func storedRect(o int, b, r image.Rectangle) image.Rectangle {
	x0, y0 := toStored(o, b.Dx(), b.Dy(), r.Min.X, r.Min.Y, 0)
	x1, y1 := toStored(o, b.Dx(), b.Dy(), r.Max.X, r.Max.Y, 0)
	return image.Rect(x0, y0, x1, y1).Add(b.Min) // image.Rect sorts the corners
}

// orient returns m turned the way orientation o shows it.
func orient(m *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return m
	}
	sw, sh := m.Rect.Dx(), m.Rect.Dy()
	w, h := sw, sh
	if swaps(o) {
		w, h = sh, sw
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		row := out.Pix[y*out.Stride:]
		for x := range w {
			sx, sy := toStored(o, sw, sh, x, y, 1)
			copy(row[4*x:4*x+4], m.Pix[sy*m.Stride+4*sx:])
		}
	}
	return out
}
