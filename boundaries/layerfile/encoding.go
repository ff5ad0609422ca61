package layerfile

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// textDecoder turns the raw bytes of a DBF text field into UTF-8.
type textDecoder struct {
	name string            // for messages
	enc  encoding.Encoding // nil: UTF-8
	auto bool              // with enc == nil: invalid UTF-8 is decoded as GB18030
	dec  *encoding.Decoder
}

// autoDecoder is the fallback when nothing states an encoding: see
// Options.Encoding.
func autoDecoder() *textDecoder {
	return &textDecoder{name: "UTF-8 or else GB18030", auto: true, dec: simplifiedchinese.GB18030.NewDecoder()}
}

func newTextDecoder(name string, enc encoding.Encoding) *textDecoder {
	d := &textDecoder{name: name, enc: enc}
	if enc != nil {
		d.dec = enc.NewDecoder()
	}
	return d
}

// decode returns b as a valid UTF-8 string. Invalid input never fails: it
// becomes U+FFFD, because a garbled attribute is better reported by the
// importer than a lost feature.
func (d *textDecoder) decode(b []byte) string {
	if isASCII(b) {
		return string(b) // every supported DBF encoding is ASCII-compatible
	}
	if d.enc == nil {
		if utf8.Valid(b) {
			return string(b)
		}
		if !d.auto {
			return strings.ToValidUTF8(string(b), "\uFFFD")
		}
	}
	out, err := d.dec.Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(out)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// codePages maps the names and Windows code page numbers found in .cpg files
// and user input (after normalize) to encodings. x/net's charset.Lookup, which
// go-shapefile uses, follows the WHATWG list and knows neither "CP936" nor
// the bare "936" that ArcGIS writes, hence this table.
var codePages = map[string]encoding.Encoding{
	"utf8": nil, "65001": nil,
	"gbk": simplifiedchinese.GBK, "936": simplifiedchinese.GBK, "gb2312": simplifiedchinese.GBK,
	"gb231280": simplifiedchinese.GBK, "euccn": simplifiedchinese.GBK, "xgbk": simplifiedchinese.GBK,
	"chinese": simplifiedchinese.GBK, "csgb2312": simplifiedchinese.GBK, "20936": simplifiedchinese.GBK,
	"gb18030": simplifiedchinese.GB18030, "54936": simplifiedchinese.GB18030,
	"big5": traditionalchinese.Big5, "950": traditionalchinese.Big5, "big5hkscs": traditionalchinese.Big5,
	"shiftjis": japanese.ShiftJIS, "sjis": japanese.ShiftJIS, "932": japanese.ShiftJIS,
	"eucjp": japanese.EUCJP, "20932": japanese.EUCJP,
	"euckr": korean.EUCKR, "949": korean.EUCKR,
	"1250": charmap.Windows1250, "1251": charmap.Windows1251, "1252": charmap.Windows1252,
	"1253": charmap.Windows1253, "1254": charmap.Windows1254, "1255": charmap.Windows1255,
	"1256": charmap.Windows1256, "1257": charmap.Windows1257, "1258": charmap.Windows1258,
	"88591": charmap.ISO8859_1, "iso88591": charmap.ISO8859_1, "latin1": charmap.ISO8859_1, "28591": charmap.ISO8859_1,
	"437": charmap.CodePage437, "850": charmap.CodePage850, "852": charmap.CodePage852, "866": charmap.CodePage866,
}

// normalizeCodePage folds "CP936", "ANSI 936", "windows-936", "ms936" to
// "936" and "UTF-8", "utf_8" to "utf8".
func normalizeCodePage(label string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.Trim(label, " \t\r\n\x00")) {
		if r == '-' || r == '_' || r == ' ' || r == '.' {
			continue
		}
		b.WriteRune(r)
	}
	k := b.String()
	for _, p := range []string{"ansi", "windows", "codepage", "cp", "ms", "ibm"} {
		if rest, ok := strings.CutPrefix(k, p); ok && rest != "" && isDigits(rest) {
			return rest
		}
	}
	return k
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// lookupEncoding resolves an encoding label from a .cpg file or
// Options.Encoding.
func lookupEncoding(label string) (*textDecoder, error) {
	name := strings.Trim(label, " \t\r\n\x00")
	if enc, ok := codePages[normalizeCodePage(label)]; ok {
		return newTextDecoder(name, enc), nil
	}
	enc, err := htmlindex.Get(name)
	if err != nil {
		return nil, fmt.Errorf("unknown text encoding %q", name)
	}
	if enc == unicode.UTF8 {
		enc = nil
	}
	return newTextDecoder(name, enc), nil
}

// ldidDecoder maps the DBF header's language driver ID (byte 29) to an
// encoding. Only the Chinese, Japanese and Korean IDs are trusted: the
// Western ones (0x57 "ANSI", 0x03 "1252") are written by many tools whatever
// the data is, and Chinese text mis-read as Latin-1 would go unnoticed.
func ldidDecoder(ldid byte) *textDecoder {
	switch ldid {
	case 0x4D, 0x7A:
		return newTextDecoder("GBK (DBF language driver)", simplifiedchinese.GBK)
	case 0x4F, 0x78:
		return newTextDecoder("Big5 (DBF language driver)", traditionalchinese.Big5)
	case 0x13, 0x7B:
		return newTextDecoder("Shift_JIS (DBF language driver)", japanese.ShiftJIS)
	case 0x4E, 0x79:
		return newTextDecoder("EUC-KR (DBF language driver)", korean.EUCKR)
	}
	return nil
}
