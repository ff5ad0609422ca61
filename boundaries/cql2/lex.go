// Package cql2 parses the CQL2-text filters of OGC API – Features Part 3 and
// turns them into parameterised SQL. The parser is hand-written and accepts
// only the subset jiedao implements (Basic CQL2, LIKE/IN/BETWEEN, spatial
// functions): anything else is an *Error naming the position, so a client
// learns what is wrong instead of getting a database error. No input value is
// ever spliced into SQL: literals become $n parameters, and property names
// map to SQL only through the caller's table of queryables.
package cql2

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is a parse or compile error at a 1-based character position.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("position %d: %s", e.Pos, e.Msg) }

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tQuoted // "identifier"
	tString
	tNumber
	tLParen
	tRParen
	tComma
	tOp // = <> < > <= >=
)

type token struct {
	kind tokKind
	text string // identifier, unescaped string, number or operator
	pos  int    // 1-based rune position
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of filter"
	case tString:
		return "string '" + t.text + "'"
	case tQuoted:
		return `"` + t.text + `"`
	default:
		return "'" + t.text + "'"
	}
}

// is reports whether t is the keyword kw (case-insensitive).
func (t token) is(kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }

// lex splits the filter into tokens; positions count characters, not bytes,
// so they match what a user sees in a filter with Chinese names.
func lex(src string) ([]token, error) {
	var toks []token
	pos := 0 // runes consumed
	i := 0
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		start := pos + 1
		if r == utf8.RuneError && size == 1 {
			return nil, &Error{start, "invalid UTF-8"}
		}
		switch {
		case unicode.IsSpace(r):
			i += size
			pos++
		case r == '(':
			toks = append(toks, token{tLParen, "(", start})
			i++
			pos++
		case r == ')':
			toks = append(toks, token{tRParen, ")", start})
			i++
			pos++
		case r == ',':
			toks = append(toks, token{tComma, ",", start})
			i++
			pos++
		case r == '=':
			toks = append(toks, token{tOp, "=", start})
			i++
			pos++
		case r == '<' || r == '>':
			op := string(r)
			i++
			pos++
			if i < len(src) && (src[i] == '=' || (r == '<' && src[i] == '>')) {
				op += string(src[i])
				i++
				pos++
			}
			toks = append(toks, token{tOp, op, start})
		case r == '\'' || r == '"':
			// Strings and quoted identifiers double their quote to escape it.
			var b strings.Builder
			i += size
			pos++
			closed := false
			for i < len(src) {
				c, sz := utf8.DecodeRuneInString(src[i:])
				if c == utf8.RuneError && sz == 1 {
					return nil, &Error{pos + 1, "invalid UTF-8"}
				}
				i += sz
				pos++
				if c == r {
					if i < len(src) && rune(src[i]) == r {
						b.WriteRune(r)
						i++
						pos++
						continue
					}
					closed = true
					break
				}
				b.WriteRune(c)
			}
			if !closed {
				return nil, &Error{start, "unterminated " + map[rune]string{'\'': "string", '"': "quoted identifier"}[r]}
			}
			kind := tString
			if r == '"' {
				kind = tQuoted
			}
			toks = append(toks, token{kind, b.String(), start})
		case r == '-' || r == '+' || r == '.' || (r >= '0' && r <= '9'):
			j := i
			if r == '-' || r == '+' {
				j++
			}
			digits := 0
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
				digits++
			}
			if j < len(src) && src[j] == '.' {
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
					digits++
				}
			}
			if digits == 0 {
				return nil, &Error{start, fmt.Sprintf("unexpected character %q", r)}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '-' || src[k] == '+') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					for k < len(src) && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			toks = append(toks, token{tNumber, src[i:j], start})
			pos += j - i // ASCII only
			i = j
		case r == '_' || unicode.IsLetter(r):
			j := i
			n := 0
			for j < len(src) {
				c, sz := utf8.DecodeRuneInString(src[j:])
				if c != '_' && c != ':' && c != '.' && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
					break
				}
				j += sz
				n++
			}
			toks = append(toks, token{tIdent, src[i:j], start})
			pos += n
			i = j
		default:
			return nil, &Error{start, fmt.Sprintf("unexpected character %q", r)}
		}
	}
	toks = append(toks, token{tEOF, "", pos + 1})
	return toks, nil
}
