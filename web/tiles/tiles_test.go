package tiles

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"testing"
)

func TestTileCacheLRU(t *testing.T) {
	c := newTileCache(cacheShards * 1000)
	// Keys of one shard, so the shard's 1000 bytes bound them.
	var keys []tileKey
	for i := 0; len(keys) < 4; i++ {
		k := tileKey{layer: "communities", z: 12, x: i}
		if c.shard(k) == c.shards[0] {
			keys = append(keys, k)
		}
	}
	entry := func() *tileEntry { return &tileEntry{raw: make([]byte, 200), gz: make([]byte, 50)} } // cost 450
	c.put(keys[0], entry())
	c.put(keys[1], entry())
	if _, ok := c.get(keys[0]); !ok { // keys[0] becomes the most recent
		t.Fatal("keys[0] not cached")
	}
	c.put(keys[2], entry()) // 1350 > 1000: evicts keys[1], the least recent
	if _, ok := c.get(keys[1]); ok {
		t.Fatal("keys[1] should be evicted")
	}
	for _, k := range []tileKey{keys[0], keys[2]} {
		if _, ok := c.get(k); !ok {
			t.Fatalf("%v evicted", k)
		}
	}
	if n, used := c.size(); n != 2 || used != 900 {
		t.Fatalf("size %d entries, %d bytes", n, used)
	}
	c.put(keys[3], &tileEntry{raw: make([]byte, 5000)}) // larger than the shard: not kept
	if _, ok := c.get(keys[3]); ok {
		t.Fatal("oversized entry kept")
	}
	off := newTileCache(-1)
	off.put(keys[0], entry())
	if _, ok := off.get(keys[0]); ok {
		t.Fatal("disabled cache kept an entry")
	}
}

func TestTilesConfigFromEnv(t *testing.T) {
	for _, c := range []struct {
		env  string
		want int64
	}{{"", 256 << 20}, {"64", 64 << 20}, {"0.5", 1 << 19}, {"0", -1}, {"lots", 256 << 20}, {"-3", 256 << 20}} {
		t.Setenv("JIEDAO_TILE_CACHE_MB", c.env)
		if got := ConfigFromEnv().CacheBytes; got != c.want {
			t.Errorf("JIEDAO_TILE_CACHE_MB=%q: %d, want %d", c.env, got, c.want)
		}
	}
}

// BenchmarkTileGzip compares a new gzip writer per tile with the pooled
// writers tileGzip uses, on 40 KB of tile-like bytes, in one run.
func BenchmarkTileGzip(b *testing.B) {
	raw := make([]byte, 40<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range raw {
		raw[i] = byte(rng.IntN(32)) // compressible, like MVT varints
	}
	b.Run("new-writer", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var buf bytes.Buffer
			w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
			w.Write(raw)
			w.Close()
		}
	})
	b.Run("pooled", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := tileGzip(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestTileGzipRoundTrip(t *testing.T) {
	raw := bytes.Repeat([]byte("jiedao tile "), 1000)
	for range 3 { // reused writers must start clean
		z, err := tileGzip(raw)
		if err != nil {
			t.Fatal(err)
		}
		r, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("round trip: %d bytes, %v", len(got), err)
		}
	}
}
