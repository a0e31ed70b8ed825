// Package thumb makes image thumbnails the way PocketBase's file fields
// define them: a field's "thumbs" option lists sizes such as "100x300" or
// "0x300f" (see ParseSpec), and GET /api/files/...?thumb=100x300 serves the
// file resized to one of them. PNG, JPEG, GIF (its first frame) and WebP
// are read; the thumbnail is written in the source's format, except WebP,
// which is written as PNG (see Make). A file that is not such an image makes
// Make fail, and the caller serves the original instead, as PocketBase does.
package thumb

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers the WebP decoder with package image

	"github.com/tortoise-dev/tortoise/core"
)

// Limits on the source image, checked from its header before its pixels are
// decoded, so that a small file claiming a huge size (a decompression bomb)
// is refused without allocating for it.
const (
	// MaxPixels is the most pixels (width × height) a source may have.
	MaxPixels = 50_000_000
	// MaxDecodeBytes is the most memory decoding a source may take, as
	// estimated from its header: about 4 bytes a pixel for PNG, 8 for a
	// 16-bit PNG, 1.5 to 4 for a baseline JPEG but 7.5 to 24 for a
	// progressive one, 1 for GIF and 8 (a safe over-estimate) for WebP.
	MaxDecodeBytes = 256 << 20
)

// JPEGQuality is the quality JPEG thumbnails are encoded at.
const JPEGQuality = 85

// Errors that Make's errors wrap, for errors.Is.
var (
	// ErrUnsupported: the input is not a PNG, JPEG, GIF or WebP image, or
	// it is damaged.
	ErrUnsupported = errors.New("thumb: not a supported image")
	// ErrTooLarge: the source is over MaxPixels or MaxDecodeBytes, or a
	// side of the thumbnail derived from its aspect ratio is over MaxSide.
	ErrTooLarge = errors.New("thumb: image too large")
)

// Supported reports whether files of the media type contentType (parameters
// allowed, e.g. "image/png; charset=binary") can be thumbnailed: PNG, JPEG,
// GIF and WebP. Make still checks the bytes themselves.
func Supported(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch mt {
	case "image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp":
		return true
	}
	return false
}

// Make reads an image from src, writes its thumbnail of size spec to dst and
// returns the thumbnail's media type. The thumbnail has the source's format
// (image/png, image/jpeg at JPEGQuality, or image/gif: one frame in the first
// frame's own palette, so flat-colour GIFs stay crisp), except that a WebP
// source gives a PNG. Resizing uses the Catmull-Rom filter. Like PocketBase,
// a JPEG's EXIF orientation is applied first; crop modes and 0xH/Wx0 may
// enlarge a small image, Fit never does.
//
// Memory: the source's header is read first and an image over MaxPixels or
// MaxDecodeBytes is refused before its pixels are decoded, so one call holds
// at most about MaxDecodeBytes for the decoded source plus twice the
// thumbnail's 4 bytes a pixel (64 MiB at MaxSide x MaxSide), plus a copy of
// the source's header (for a JPEG, everything before its first scan). Make is
// safe for concurrent use; callers should bound how many calls run at once.
//
// Errors: a KindInvalid *core.Error wrapping ErrUnsupported when src is not
// a supported image or is damaged, or for an invalid spec; a KindTooLarge one
// wrapping ErrTooLarge over the limits; a KindInternal one when dst fails.
// On error nothing, or part of a thumbnail, may have been written to dst.
func Make(dst io.Writer, src io.Reader, spec Spec) (contentType string, err error) {
	if err := spec.check(); err != nil {
		return "", err
	}
	// Read the header through a tee, so that the full decode can read the
	// same bytes again after the size check.
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(src, &head))
	if err != nil {
		return "", unsupported(err)
	}
	orientation := 1
	bytesPerPx := 4.0
	switch format {
	case "png":
		switch cfg.ColorModel {
		case color.RGBA64Model, color.NRGBA64Model:
			bytesPerPx = 8
		}
	case "jpeg":
		h := readJPEGHeader(head.Bytes())
		orientation = h.orientation
		if h.bytesPerPx > 0 {
			bytesPerPx = h.bytesPerPx
		}
	case "gif":
		bytesPerPx = 1
	case "webp":
		bytesPerPx = 8
	default: // another decoder registered elsewhere in the program
		return "", unsupported(errors.New("format " + format))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return "", unsupported(errors.New("empty image"))
	}
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if pixels > MaxPixels || float64(pixels)*bytesPerPx > MaxDecodeBytes {
		e := core.Errorf(core.KindTooLarge, "The image is too large to make a thumbnail of (%dx%d).", cfg.Width, cfg.Height)
		e.Err = ErrTooLarge
		return "", e
	}

	var img image.Image
	if format == "gif" {
		img, err = gif.Decode(io.MultiReader(&head, src)) // the first frame only
	} else {
		img, _, err = image.Decode(io.MultiReader(&head, src))
	}
	if err != nil {
		return "", unsupported(err)
	}

	b := img.Bounds()
	shown := b.Size()
	if swaps(orientation) {
		shown.X, shown.Y = shown.Y, shown.X
	}
	crop, size, err := layout(shown.X, shown.Y, spec)
	if err != nil {
		return "", err
	}
	// Crop and scale in the stored orientation, then turn the (small)
	// result, rather than turning the whole source first.
	stored := size
	if swaps(orientation) {
		stored.X, stored.Y = stored.Y, stored.X
	}
	out := image.NewRGBA(image.Rectangle{Max: stored})
	sr := storedRect(orientation, b, crop)
	if sr.Size() == stored {
		draw.Draw(out, out.Rect, img, sr.Min, draw.Src)
	} else {
		draw.CatmullRom.Scale(out, out.Rect, img, sr, draw.Src, nil)
	}
	out = orient(out, orientation)

	switch format {
	case "jpeg":
		contentType, err = "image/jpeg", jpeg.Encode(dst, out, &jpeg.Options{Quality: JPEGQuality})
	case "gif":
		contentType, err = "image/gif", encodeGIF(dst, out, img)
	default: // png, webp
		contentType, err = "image/png", png.Encode(dst, out)
	}
	if err != nil {
		return "", core.Internal(err, "Failed to write the thumbnail.")
	}
	return contentType, nil
}

// encodeGIF writes m as a one-frame GIF in the palette of the source frame
// src: every colour of the resampled thumbnail is a blend of that palette's
// colours, so it stays close to the source, transparency included, with
// Floyd-Steinberg dithering at the blended edges.
func encodeGIF(w io.Writer, m *image.RGBA, src image.Image) error {
	sp, ok := src.(*image.Paletted)
	if !ok || len(sp.Palette) == 0 {
		return gif.Encode(w, m, nil) // never for image/gif's frames
	}
	p := image.NewPaletted(m.Rect, sp.Palette)
	draw.FloydSteinberg.Draw(p, p.Rect, m, image.Point{})
	return gif.Encode(w, p, nil)
}

// layout returns the part of a w x h (shown) image that the thumbnail
// keeps, and the thumbnail's size, following PocketBase (its imaging.Fill,
// Fit and Resize): a crop mode keeps the largest centred (or top, or
// bottom) part with the thumbnail's aspect ratio; Fit keeps the image whole,
// shrunk to fit when it does not; 0xH and Wx0 derive the missing side.
func layout(w, h int, s Spec) (crop image.Rectangle, size image.Point, err error) {
	crop = image.Rect(0, 0, w, h)
	switch {
	case s.W == 0:
		size = image.Pt(ratio(s.H, w, h), s.H)
	case s.H == 0:
		size = image.Pt(s.W, ratio(s.W, h, w))
	case s.Mode == Fit:
		switch {
		case w <= s.W && h <= s.H:
			size = image.Pt(w, h)
		case int64(w)*int64(s.H) > int64(s.W)*int64(h): // wider than the box
			size = image.Pt(s.W, ratio(s.W, h, w))
		default:
			size = image.Pt(ratio(s.H, w, h), s.H)
		}
	default:
		size = image.Pt(s.W, s.H)
		if int64(w)*int64(s.H) > int64(s.W)*int64(h) { // wider: crop the sides
			cw := ratio(h, s.W, s.H)
			x := (w - cw) / 2
			crop = image.Rect(x, 0, x+cw, h)
		} else { // taller: crop the top and bottom, or one of them
			ch := ratio(w, s.H, s.W)
			y := (h - ch) / 2
			switch s.Mode {
			case Top:
				y = 0
			case Bottom:
				y = h - ch
			}
			crop = image.Rect(0, y, w, y+ch)
		}
	}
	if size.X > MaxSide || size.Y > MaxSide {
		e := core.Errorf(core.KindTooLarge, "The thumbnail %s of a %dx%d image would be %dx%d, over %d pixels a side.",
			s, w, h, size.X, size.Y, MaxSide)
		e.Err = ErrTooLarge
		return crop, size, e
	}
	return crop, size, nil
}

// ratio returns n × num / den rounded to the nearest integer, at least 1.
func ratio(n, num, den int) int {
	r := (2*int64(n)*int64(num) + int64(den)) / (2 * int64(den))
	if r < 1 {
		return 1
	}
	if r > 1<<30 { // only compared with MaxSide afterwards
		return 1 << 30
	}
	return int(r)
}

func unsupported(err error) error {
	return &core.Error{Kind: core.KindInvalid, Message: "The file is not an image that can be thumbnailed.",
		Err: fmt.Errorf("%w: %w", ErrUnsupported, err)}
}
