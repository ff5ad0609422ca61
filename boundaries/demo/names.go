package demo

import "strings"

// Names are a descriptive character plus a place character ("安园", "春桥"),
// drawn by hash: synthetic, though a word may happen to match a real place;
// the 99 codes and the "示例" districts make the city's nature unmistakable.
var (
	firstChars = []rune("安宁和平兴华明光春秋东西南北中新永长福康乐泰顺祥瑞丰盛荣昌景文德仁信清源泉溪松柏桃李杏梅兰竹菊桂枫柳杨槐云霞晨曦星月阳辉金玉嘉禾恒裕隆泽润雅静怡远鸿")
	placeChars = []rune("园苑庄桥塘湾港岭峰坡台亭楼城坊里巷营屯河湖山林门街口坝堡店渠")
)

// word returns a two-character word for (parent, index, attempt).
func word(seed int64, parent, index, attempt int) string {
	h := hash3(seed, saltNames, parent, index*64+attempt)
	a := h % uint64(len(firstChars))
	b := (h / uint64(len(firstChars))) % uint64(len(placeChars))
	return string([]rune{firstChars[a], placeChars[b]})
}

// roadWord is a word for a road, by hash of (a, b); roads need not have
// unique names.
func roadWord(seed int64, a, b int) string {
	h := hash3(seed, saltRoadNames, a, b)
	x := h % uint64(len(firstChars))
	y := (h / uint64(len(firstChars))) % uint64(len(placeChars))
	return string([]rune{firstChars[x], placeChars[y]})
}

// uniqueWords returns n distinct words for the children of one parent.
func uniqueWords(seed int64, parent, n int) []string {
	seen := make(map[string]bool, n)
	out := make([]string, n)
	for i := range out {
		for attempt := 0; ; attempt++ {
			w := word(seed, parent, i, attempt)
			if !seen[w] {
				seen[w] = true
				out[i] = w
				break
			}
		}
	}
	return out
}

// chineseNumber writes 1..9999 in Chinese numerals (十一, 一百零五, 二千七百零四).
func chineseNumber(n int) string {
	const digits = "零一二三四五六七八九"
	d := []rune(digits)
	var b strings.Builder
	started, zero := false, false
	for _, p := range []struct {
		v    int
		unit string
	}{{1000, "千"}, {100, "百"}, {10, "十"}, {1, ""}} {
		x := n / p.v % 10
		if x == 0 {
			zero = zero || started
			continue
		}
		if zero {
			b.WriteRune(d[0])
			zero = false
		}
		if !(p.v == 10 && x == 1 && !started) { // 十一, not 一十一
			b.WriteRune(d[x])
		}
		b.WriteString(p.unit)
		started = true
	}
	return b.String()
}

func districtName(i int) string { return "示例第" + chineseNumber(i+1) + "区" }
