package thumb

import "encoding/binary"

// jpegHeader is what Make needs from a JPEG's markers before decoding it.
type jpegHeader struct {
	orientation int     // EXIF orientation, 1 (as stored) to 8
	bytesPerPx  float64 // estimated decoder memory per pixel; 0 if no frame header was seen
}

// readJPEGHeader walks the markers of a JPEG stream's head (the bytes that
// image.DecodeConfig consumed, which run at least to the frame header) for
// the EXIF orientation in APP1 and for the frame header's kind and
// components. It never fails: whatever it cannot read is left at its
// default, orientation 1 and no estimate.
func readJPEGHeader(b []byte) jpegHeader {
	h := jpegHeader{orientation: 1}
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xD8 {
		return h
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return h
		}
		marker := b[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0x01 || 0xD0 <= marker && marker <= 0xD7 { // no length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return h
		}
		seg := b[i+4 : i+2+n]
		switch {
		case marker == 0xE1:
			if o := exifOrientation(seg); o != 0 {
				h.orientation = o
			}
		case marker == 0xC4 || marker == 0xC8 || marker == 0xCC: // DHT, JPG, DAC: not frames
		case 0xC0 <= marker && marker <= 0xCF:
			h.bytesPerPx = frameBytesPerPixel(seg, marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE)
			return h
		case marker == 0xDA || marker == 0xD9: // start of scan, end of image
			return h
		}
		i += 2 + n
	}
	return h
}

// frameBytesPerPixel estimates the memory image/jpeg allocates for a frame
// with the header seg: one byte per sample of each component plane, and for
// a progressive image also every DCT coefficient as an int32 (four bytes
// per sample) until the last scan; a four-component (CMYK) image is then
// converted into a 4-byte-per-pixel image as well.
func frameBytesPerPixel(seg []byte, progressive bool) float64 {
	if len(seg) < 6 {
		return 0
	}
	nf := int(seg[5])
	if nf == 0 || len(seg) < 6+3*nf {
		return 0
	}
	hmax, vmax := 1, 1
	for c := range nf {
		s := seg[6+3*c+1]
		hmax, vmax = max(hmax, int(s>>4)), max(vmax, int(s&15))
	}
	perSample := 1.0
	if progressive {
		perSample += 4
	}
	total := 0.0
	for c := range nf {
		s := seg[6+3*c+1]
		total += perSample * float64(int(s>>4)*int(s&15)) / float64(hmax*vmax)
	}
	if nf == 4 {
		total += 4
	}
	return total
}

// exifOrientation returns the Orientation tag (0x0112) of IFD0 in an APP1
// segment's payload, or 0 when it is not EXIF or has no valid orientation.
func exifOrientation(seg []byte) int {
	const hdr = "Exif\x00\x00"
	if len(seg) < len(hdr)+8 || string(seg[:len(hdr)]) != hdr {
		return 0
	}
	tiff := seg[len(hdr):]
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(tiff[2:]) != 42 {
		return 0
	}
	ifd := uint64(bo.Uint32(tiff[4:]))
	if ifd+2 > uint64(len(tiff)) {
		return 0
	}
	count := uint64(bo.Uint16(tiff[ifd:]))
	for e := ifd + 2; count > 0 && e+12 <= uint64(len(tiff)); e, count = e+12, count-1 {
		if bo.Uint16(tiff[e:]) != 0x0112 {
			continue
		}
		// A SHORT (type 3), count 1, its value in the first two bytes of
		// the value field.
		if bo.Uint16(tiff[e+2:]) != 3 || bo.Uint32(tiff[e+4:]) != 1 {
			return 0
		}
		if o := int(bo.Uint16(tiff[e+8:])); 1 <= o && o <= 8 {
			return o
		}
		return 0
	}
	return 0
}
