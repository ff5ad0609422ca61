package importer

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/jiedao/jiedao/boundaries"
)

// String is the issue's report line: "feature 2 (no code) 藏经馆社区:
// missing code …". Every line names index, code and name, so a feature
// can be found in the file whichever of them it lacks.
func (is Issue) String() string {
	code, name := printable(is.Code), printable(is.Name)
	if code == "" {
		code = "(no code)"
	}
	if name == "" {
		name = "(no name)"
	}
	return fmt.Sprintf("feature %d %s %s: %s", is.Index, code, name, printable(is.Reason))
}

// Codes, names and reasons come from the file: a report keeps a bounded
// part of each, so a hostile file cannot blow up the report row.
const (
	maxIssueLabel  = 120  // runes of a code or name
	maxIssueReason = 2000 // runes of a reason
)

func (is Issue) clipped() Issue {
	is.Code = clip(is.Code, maxIssueLabel)
	is.Name = clip(is.Name, maxIssueLabel)
	is.Reason = clip(is.Reason, maxIssueReason)
	return is
}

// clip cuts s to n runes, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n { // bytes ≥ runes
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// printable replaces control and format characters (newlines, bidi
// overrides) so that a line of the report stays one honest line.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsGraphic(r) {
			return r
		}
		return '\uFFFD'
	}, s)
}

// maxListedFields is how many of a feature's fields a message names.
const maxListedFields = 30

// missingField words the rejection of a feature without a code or name
// (what): the field looked for, the fields the feature has and the one
// that looks like what was wanted, since the usual cause is that the file
// names it differently (code_2023, NAME) rather than that it is absent.
func missingField(props map[string]any, what, field, flag string, opt Options) string {
	var b strings.Builder
	if _, ok := props[field]; ok {
		fmt.Fprintf(&b, "missing %s: field %s is empty", what, quoteField(field))
	} else {
		fmt.Fprintf(&b, "missing %s: no field %s", what, quoteField(field))
	}
	keys := sortedKeys(props)
	switch {
	case len(keys) == 0:
		b.WriteString("; the feature has no fields")
	default:
		b.WriteString("; its fields: ")
		for i, k := range keys {
			if i == maxListedFields {
				fmt.Fprintf(&b, ", … (%d in all)", len(keys))
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteField(k))
		}
	}
	like := looksLikeName(props, field)
	if what == "code" {
		like = looksLikeCode(props, opt)
	}
	if like != "" {
		fmt.Fprintf(&b, "; %s looks like the %s: use %s %s", quoteField(like), what, flag, quoteField(like))
	}
	if what == "code" {
		b.WriteString("; or --provisional-codes to give features without one a provisional code")
	}
	return b.String()
}

// looksLikeCode picks the field that most looks like the unit code: a
// value of the level's digits, a name saying code (code_2023, adcode,
// 编码), best both. Digit values of another length are another level's
// codes (the parent's) or counts, so those fields are passed over; so
// are the fields already given as code and parent.
func looksLikeCode(props map[string]any, opt Options) string {
	want := codeDigits(opt.Level)
	best, bestScore := "", 0
	for _, k := range sortedKeys(props) {
		if k == opt.CodeField || k == opt.ParentField {
			continue
		}
		v := propString(props, k)
		digits := v != "" && strings.Trim(v, "0123456789") == ""
		if digits && len(v) != want {
			continue
		}
		score := 0
		if digits {
			score += 2
		}
		lk := strings.ToLower(k)
		if strings.Contains(lk, "code") || strings.Contains(k, "编码") || strings.Contains(k, "代码") {
			score++
		}
		if score > bestScore {
			best, bestScore = k, score
		}
	}
	return best
}

// looksLikeName picks a field other than the one given whose name says
// name (NAME, name_2023, 名称) and whose value is text.
func looksLikeName(props map[string]any, field string) string {
	for _, k := range sortedKeys(props) {
		lk := strings.ToLower(k)
		if k == field || !(strings.Contains(lk, "name") || strings.Contains(k, "名")) {
			continue
		}
		if v := propString(props, k); v != "" && strings.Trim(v, "0123456789.-") != "" {
			return k
		}
	}
	return ""
}

// codeDigits is the length of a standard statistical code of the level.
func codeDigits(l boundaries.Level) int {
	switch l {
	case boundaries.District:
		return 6
	case boundaries.Street:
		return 9
	case boundaries.Community:
		return 12
	case boundaries.Grid:
		return 15
	}
	return 0
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// quoteField shows a field name as it can be typed after a flag: bare
// when it is a plain word, Go-quoted (escapes and all) otherwise.
func quoteField(k string) string {
	k = clip(k, 60)
	plain := k != ""
	for _, r := range k {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.') {
			plain = false
			break
		}
	}
	if plain {
		return k
	}
	return strconv.Quote(k)
}
