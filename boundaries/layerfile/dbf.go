package layerfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// dbfReader streams the records of a dBase table (the .dbf of a Shapefile).
//
// It is written here rather than taken from go-shapefile, whose DBF reader
// ignores the decimal count of N fields (so 2.0 in an N(10,0) field and 2 in
// an N(24,15) field cannot be told apart), keeps field names as raw bytes
// (garbling the GBK field names Chinese files often have), returns int rather
// than int64, and only knows the WHATWG encoding labels.
type dbfReader struct {
	r       *bufio.Reader
	fields  []dbfField
	recLen  int
	records int // record count from the header
	read    int // records read so far
	ldid    byte
	dec     *textDecoder
	buf     []byte
	eof     bool
}

type dbfField struct {
	name     string
	typ      byte
	offset   int // from the start of the record, after the deletion flag
	length   int
	decimals int
}

const dbfHeaderLen = 32

// newDBFReader reads the DBF header and field descriptors. dec may be nil:
// the encoding is then taken from the language driver byte, or guessed.
func newDBFReader(r io.Reader, dec *textDecoder) (*dbfReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head := make([]byte, dbfHeaderLen)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, fmt.Errorf("read DBF header: %w", err)
	}
	d := &dbfReader{
		r:       br,
		records: int(binary.LittleEndian.Uint32(head[4:8])),
		recLen:  int(binary.LittleEndian.Uint16(head[10:12])),
		ldid:    head[29],
		dec:     dec,
	}
	headerLen := int(binary.LittleEndian.Uint16(head[8:10]))
	if headerLen < dbfHeaderLen+1 || d.recLen < 1 {
		return nil, fmt.Errorf("bad DBF header (header length %d, record length %d)", headerLen, d.recLen)
	}
	if d.dec == nil {
		d.dec = ldidDecoder(d.ldid)
	}
	if d.dec == nil {
		d.dec = autoDecoder()
	}
	// The descriptors end with 0x0D; Visual FoxPro adds a 263-byte backlink
	// after it, which reading the whole declared header length skips.
	desc := make([]byte, headerLen-dbfHeaderLen)
	if _, err := io.ReadFull(br, desc); err != nil {
		return nil, fmt.Errorf("read DBF field descriptors: %w", err)
	}
	offset := 1
	for i := 0; i+32 <= len(desc) && desc[i] != 0x0D; i += 32 {
		fd := desc[i : i+32]
		name := fd[:11]
		if n := bytes.IndexByte(name, 0); n >= 0 {
			name = name[:n]
		}
		f := dbfField{
			name:   d.dec.decode(bytes.TrimSpace(name)),
			typ:    fd[11],
			offset: offset,
			length: int(fd[16]),
		}
		// Like shapelib: byte 17 is the decimal count of numbers, but the
		// high byte of the length of a character field longer than 255.
		switch f.typ {
		case 'N', 'F':
			f.decimals = int(fd[17])
		case 'C':
			f.length += 256 * int(fd[17])
		}
		offset += f.length
		d.fields = append(d.fields, f)
	}
	if offset > d.recLen {
		return nil, fmt.Errorf("DBF fields need %d bytes but records are %d bytes", offset, d.recLen)
	}
	d.buf = make([]byte, d.recLen)
	return d, nil
}

// next returns the attributes of the next record; deleted reports a record
// marked deleted ('*'). It returns io.EOF after the last record.
func (d *dbfReader) next() (props map[string]any, deleted bool, err error) {
	if d.eof || d.read >= d.records {
		d.eof = true
		return nil, false, io.EOF
	}
	if _, err := io.ReadFull(d.r, d.buf); err != nil {
		d.eof = true
		// A table shorter than its header says, or ending with the 0x1A
		// end-of-file marker: stop there, as shapelib does.
		if errors.Is(err, io.EOF) || (errors.Is(err, io.ErrUnexpectedEOF) && d.buf[0] == 0x1A) {
			return nil, false, io.EOF
		}
		return nil, false, fmt.Errorf("read DBF record %d: %w", d.read, err)
	}
	if d.buf[0] == 0x1A {
		d.eof = true
		return nil, false, io.EOF
	}
	d.read++
	props = make(map[string]any, len(d.fields))
	for _, f := range d.fields {
		props[f.name] = d.value(f, d.buf[f.offset:f.offset+f.length])
	}
	return props, d.buf[0] == '*', nil
}

// value converts one field. A value that does not parse as its type is kept
// as its text rather than dropped or failing the feature: it is most likely
// in a column the importer does not use.
func (d *dbfReader) value(f dbfField, raw []byte) any {
	switch f.typ {
	case 'N', 'F':
		s := string(bytes.Trim(raw, " \x00"))
		if s == "" || allByte(s, '*') || allByte(s, '.') {
			return nil // shapelib's NULL numbers: blank or filled with '*'
		}
		if f.typ == 'N' && f.decimals == 0 {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n
			}
		}
		if x, err := strconv.ParseFloat(s, 64); err == nil {
			return x
		}
		return s
	case 'L':
		switch b := bytes.Trim(raw, " \x00"); {
		case len(b) != 1:
			return nil
		case b[0] == 'T' || b[0] == 't' || b[0] == 'Y' || b[0] == 'y':
			return true
		case b[0] == 'F' || b[0] == 'f' || b[0] == 'N' || b[0] == 'n':
			return false
		}
		return nil
	case 'D':
		s := string(bytes.Trim(raw, " \x00"))
		switch {
		case s == "" || s == "00000000":
			return nil
		case len(s) == 8 && isDigits(s):
			return s[:4] + "-" + s[4:6] + "-" + s[6:]
		}
		return s
	case 'I': // Visual FoxPro binary int32
		if len(raw) == 4 {
			return int64(int32(binary.LittleEndian.Uint32(raw)))
		}
	case 'O', 'B': // binary double (B is a double in Visual FoxPro)
		if len(raw) == 8 {
			return math.Float64frombits(binary.LittleEndian.Uint64(raw))
		}
	}
	// C and anything else: text.
	return d.dec.decode(bytes.Trim(raw, " \x00"))
}

func allByte(s string, c byte) bool {
	for i := range len(s) {
		if s[i] != c {
			return false
		}
	}
	return true
}
