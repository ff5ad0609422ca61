package tiles

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"sync"
)

// tileKey identifies an encoded tile: the data version makes every write
// (imports, count updates, analysis runs) a different key, so the cache is
// never stale and needs no purge.
type tileKey struct {
	layer   string
	z, x, y int
	profile string
	at      string
	version int64
	// scenario is 0 for the live boundaries.
	scenario int64
}

func (k tileKey) etag() string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%d/%d/%d|%s|%s|%d|%d", tileFormat, k.layer, k.z, k.x, k.y, k.profile, k.at, k.version, k.scenario))
	return hex.EncodeToString(h[:12])
}

// tileEntry is an encoded tile; raw is nil for an empty tile.
type tileEntry struct {
	raw, gz []byte
	etag    string
}

func (e *tileEntry) cost() int64 { return int64(len(e.raw)+len(e.gz)) + 200 }

// tileCache is a byte-bounded LRU, sharded so concurrent tile requests do
// not queue on one lock.
type tileCache struct {
	seed   maphash.Seed
	shards []*cacheShard
}

type cacheShard struct {
	mu    sync.Mutex
	max   int64
	used  int64
	order *list.List // front = most recent; values are *cacheItem
	items map[tileKey]*list.Element
}

type cacheItem struct {
	key   tileKey
	entry *tileEntry
}

const cacheShards = 16

// newTileCache makes a cache of at most maxBytes; maxBytes < 0 keeps
// nothing.
func newTileCache(maxBytes int64) *tileCache {
	c := &tileCache{seed: maphash.MakeSeed()}
	for range cacheShards {
		c.shards = append(c.shards, &cacheShard{max: max(maxBytes, 0) / cacheShards, order: list.New(), items: map[tileKey]*list.Element{}})
	}
	return c
}

func (c *tileCache) enabled() bool { return c.shards[0].max > 0 }

func (c *tileCache) shard(k tileKey) *cacheShard {
	return c.shards[maphash.Comparable(c.seed, k)%cacheShards]
}

func (c *tileCache) get(k tileKey) (*tileEntry, bool) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	el, ok := sh.items[k]
	if !ok {
		return nil, false
	}
	sh.order.MoveToFront(el)
	return el.Value.(*cacheItem).entry, true
}

func (c *tileCache) put(k tileKey, e *tileEntry) {
	sh := c.shard(k)
	cost := e.cost()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if cost > sh.max {
		return
	}
	if el, ok := sh.items[k]; ok {
		sh.used += cost - el.Value.(*cacheItem).entry.cost()
		el.Value.(*cacheItem).entry = e
		sh.order.MoveToFront(el)
	} else {
		sh.items[k] = sh.order.PushFront(&cacheItem{key: k, entry: e})
		sh.used += cost
	}
	// Entries of older data versions are never asked for again; LRU
	// order pushes them out first.
	for sh.used > sh.max {
		el := sh.order.Back()
		it := el.Value.(*cacheItem)
		sh.order.Remove(el)
		delete(sh.items, it.key)
		sh.used -= it.entry.cost()
	}
}

func (c *tileCache) size() (entries, used int64) {
	for _, sh := range c.shards {
		sh.mu.Lock()
		entries += int64(len(sh.items))
		used += sh.used
		sh.mu.Unlock()
	}
	return entries, used
}

// tileFlightGroup makes concurrent misses for the same tile share one query
// (a map opening makes many clients ask for the same tiles at once).
type tileFlightGroup struct {
	mu    sync.Mutex
	calls map[tileKey]*tileFlightCall
}

type tileFlightCall struct {
	done  chan struct{}
	entry *tileEntry
	err   error
}

func (g *tileFlightGroup) do(k tileKey, f func() (*tileEntry, error)) (*tileEntry, bool, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[tileKey]*tileFlightCall{}
	}
	if call, ok := g.calls[k]; ok {
		g.mu.Unlock()
		<-call.done
		return call.entry, true, call.err
	}
	call := &tileFlightCall{done: make(chan struct{})}
	g.calls[k] = call
	g.mu.Unlock()
	call.entry, call.err = f()
	g.mu.Lock()
	delete(g.calls, k)
	g.mu.Unlock()
	close(call.done)
	return call.entry, false, call.err
}

// tileBaseURL is the scheme and host the request came to, for absolute URLs
