package boundaries

// AppendJSONString appends s as a JSON string: UTF-8 passes through,
// quotes, backslashes and control characters are escaped. It is the one
// string encoder of the documents built by hand for speed (lookup batches,
// the demo generator's GeoJSON), where encoding/json would allocate.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
