package layerfile

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// maxWKBDepth bounds the nesting of collections in one geometry.
const maxWKBDepth = 16

var errWKBTruncated = errors.New("WKB: truncated")

// checkWKB is the guard in front of go-geom's WKB decoder, which allocates
// from the counts it reads before reading what they count (a polygon's
// ring count becomes make([]int, n), a ring's point count make([]float64,
// 2n)): a ring count of 0xFFFFFFFF in a 20-byte blob asks for 32 GiB, an
// unrecoverable crash rather than an error. It walks the structure (ISO
// WKB types 1–7 in 2D, Z, M and ZM, and PostGIS EWKB flags), checking that
// every declared count fits in the bytes left, that collections nest at
// most maxWKBDepth deep and that nothing trails. It returns the outer 2D
// type (1 Point … 7 GeometryCollection). Decoding stays go-geom's.
func checkWKB(b []byte) (uint32, error) {
	typ, rest, err := walkWKB(b, 0)
	if err != nil {
		return 0, err
	}
	if len(rest) != 0 {
		return 0, fmt.Errorf("WKB: %d trailing bytes", len(rest))
	}
	return typ, nil
}

func walkWKB(b []byte, depth int) (uint32, []byte, error) {
	if depth > maxWKBDepth {
		return 0, nil, fmt.Errorf("WKB: collections nested over %d deep", maxWKBDepth)
	}
	if len(b) < 5 {
		return 0, nil, errWKBTruncated
	}
	var bo binary.ByteOrder
	switch b[0] {
	case 0:
		bo = binary.BigEndian
	case 1:
		bo = binary.LittleEndian
	default:
		return 0, nil, fmt.Errorf("WKB: invalid byte order %d", b[0])
	}
	raw := bo.Uint32(b[1:])
	b = b[5:]
	dims := 2
	if raw&0x80000000 != 0 { // EWKB Z
		dims++
	}
	if raw&0x40000000 != 0 { // EWKB M
		dims++
	}
	if raw&0x20000000 != 0 { // EWKB SRID
		if len(b) < 4 {
			return 0, nil, errWKBTruncated
		}
		b = b[4:]
	}
	iso := raw & 0x0fffffff
	typ := iso % 1000
	switch iso / 1000 {
	case 1, 2:
		dims++
	case 3:
		dims += 2
	case 0:
	default:
		return 0, nil, fmt.Errorf("WKB: unsupported geometry type %d", raw)
	}
	point := uint64(8 * dims)
	count := func(min uint64, what string) (uint32, error) {
		if len(b) < 4 {
			return 0, errWKBTruncated
		}
		n := bo.Uint32(b)
		b = b[4:]
		if uint64(n)*min > uint64(len(b)) {
			return 0, fmt.Errorf("WKB: %d %s do not fit in the %d bytes left", n, what, len(b))
		}
		return n, nil
	}
	points := func() error {
		n, err := count(point, "points")
		if err != nil {
			return err
		}
		b = b[uint64(n)*point:]
		return nil
	}
	switch typ {
	case 1:
		if uint64(len(b)) < point {
			return 0, nil, errWKBTruncated
		}
		return typ, b[point:], nil
	case 2:
		return typ, b, points()
	case 3:
		rings, err := count(4, "rings")
		if err != nil {
			return 0, nil, err
		}
		for range rings {
			if err := points(); err != nil {
				return 0, nil, err
			}
		}
		return typ, b, nil
	case 4, 5, 6, 7:
		parts, err := count(5, "parts")
		if err != nil {
			return 0, nil, err
		}
		for range parts {
			if _, b, err = walkWKB(b, depth+1); err != nil {
				return 0, nil, err
			}
		}
		return typ, b, nil
	}
	return 0, nil, fmt.Errorf("WKB: unsupported geometry type %d", raw)
}
