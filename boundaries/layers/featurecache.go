package layers

import (
	"container/list"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The feature cache keeps each feature's GeoJSON as PostgreSQL encoded it,
// so an items page costs a narrow query for its ids and a copy of bytes:
// PostGIS encodes ~40–50k features/s per backend, a page from the cache
// is bound by the HTTP write. Entries are keyed by everything the bytes
// depend on (layer, analysis run, day, output CRS, data version, feature
// id and version), so a write is never served stale and nothing is purged;
// old keys age out of the LRU.

// DefaultFeatureCacheMB is the feature cache size without
// JIEDAO_FEATURE_CACHE_MB.
const DefaultFeatureCacheMB = 128

// featureCacheMB reads JIEDAO_FEATURE_CACHE_MB (0 disables the cache).
func featureCacheMB() int {
	v := strings.TrimSpace(os.Getenv("JIEDAO_FEATURE_CACHE_MB"))
	if v == "" {
		return DefaultFeatureCacheMB
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		slog.Warn("JIEDAO_FEATURE_CACHE_MB is not a size in MB; using the default", "value", v, "default", DefaultFeatureCacheMB)
		return DefaultFeatureCacheMB
	}
	return n
}

// featureSet is what a feature's bytes depend on besides its key.
type featureSet struct {
	layer string
	run   int64
	day   time.Time
	crs   string
	data  int64 // data version
}

type cacheKey struct {
	set featureSet
	key featureKey
}

type cacheEntry struct {
	k cacheKey
	b []byte
}

// entryOverhead approximates the map, list and key memory of an entry, so
// the budget holds for small features too.
const entryOverhead = 160

type featureCache struct {
	mu     sync.Mutex
	budget int64
	used   int64
	lru    *list.List // front: most recently used
	m      map[cacheKey]*list.Element
	counts map[string]int64 // numberMatched per query and data version
	lists  map[string][]featureKey
	// listBytes is the approximate size of lists.
	listBytes int64
}

func newFeatureCache(mb int) *featureCache {
	return &featureCache{budget: int64(mb) << 20, lru: list.New(), m: map[cacheKey]*list.Element{},
		counts: map[string]int64{}, lists: map[string][]featureKey{}}
}

func (c *featureCache) enabled() bool { return c.budget > 0 }

// get fills out[i] with the cached bytes of keys[i], leaving nil where
// missing, and returns how many were missing. One lock per page.
func (c *featureCache) get(set featureSet, keys []featureKey, out [][]byte) int {
	missing := 0
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range keys {
		if e, ok := c.m[cacheKey{set, k}]; ok {
			c.lru.MoveToFront(e)
			out[i] = e.Value.(*cacheEntry).b
		} else {
			out[i] = nil
			missing++
		}
	}
	return missing
}

// put stores features, evicting the least recently used beyond the budget.
func (c *featureCache) put(set featureSet, keys []featureKey, bs [][]byte) {
	if !c.enabled() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range keys {
		ck := cacheKey{set, k}
		if _, ok := c.m[ck]; ok {
			continue
		}
		c.m[ck] = c.lru.PushFront(&cacheEntry{ck, bs[i]})
		c.used += entrySize(ck, bs[i])
	}
	for c.used+c.listBytes > c.budget && c.lru.Len() > 0 {
		e := c.lru.Back()
		ce := e.Value.(*cacheEntry)
		c.lru.Remove(e)
		delete(c.m, ce.k)
		c.used -= entrySize(ce.k, ce.b)
	}
}

func entrySize(k cacheKey, b []byte) int64 {
	return int64(len(b) + len(k.key.ID) + entryOverhead)
}

// A query's ordered keys are kept too (up to maxListKeys of them): then
// numberMatched is their number and a page by offset or cursor is a slice
// of them, with no query at all. Above that size only the count is kept
// and pages come from a keyset query. Both are cleared when full (each
// is one query to redo); lists take at most a quarter of the budget.
const (
	maxCounts   = 4096
	maxListKeys = 200_000
)

func (c *featureCache) count(key string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.counts[key]
	return n, ok
}

func (c *featureCache) putCount(key string, n int64) {
	if !c.enabled() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.counts) >= maxCounts {
		clear(c.counts)
	}
	c.counts[key] = n
}

func (c *featureCache) list(key string) ([]featureKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.lists[key]
	return l, ok
}

func (c *featureCache) putList(key string, keys []featureKey) {
	size := int64(len(key)) + entryOverhead
	for _, k := range keys {
		size += int64(len(k.ID)) + 32
	}
	if !c.enabled() || size > c.budget/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.listBytes+size > c.budget/4 || len(c.lists) >= maxCounts {
		clear(c.lists)
		c.listBytes = 0
	}
	c.lists[key] = keys
	c.listBytes += size
}
