package demo

// Randomness is our own (splitmix64) rather than math/rand: the output must be
// byte-identical for a seed across Go releases, and math/rand/v2 documents
// that its helper algorithms may change.

// Salts keep the hash streams of different uses apart.
const (
	saltLayout uint64 = iota + 1
	saltVertex
	saltHEdge
	saltVEdge
	saltHouseholds
	saltNames
	saltKinds
	saltPoints
	saltInject
	saltOrphan
	saltBarriers
	saltRoadNames
)

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hash3 is a pure function of (seed, salt, a, b): per-entity randomness that
// does not depend on the order things are visited in, so both neighbours of
// an edge compute the same vertices.
func hash3(seed int64, salt uint64, a, b int) uint64 {
	h := mix(uint64(seed)*0x9e3779b97f4a7c15 + salt)
	h = mix(h ^ uint64(int64(a))*0xd6e8feb86659fd93)
	return mix(h ^ uint64(int64(b))*0xa0761d6478bd642f)
}

// unit maps a hash to [0,1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// rng is a sequential stream for choices made in a fixed order (layout,
// shuffles, picking injection sites).
type rng struct{ s uint64 }

func newRNG(seed int64, salt uint64) *rng {
	return &rng{s: mix(uint64(seed)*0x9e3779b97f4a7c15 ^ salt*0xd1b54a32d192ed03)}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix(r.s)
}

// intn returns a value in [0,n); the modulo bias is below 2^-40 for our n.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

func (r *rng) float() float64 { return unit(r.next()) }

func shuffle[T any](r *rng, s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}
