package store

import (
	"errors"
	"testing"
	"time"
)

func TestLSN(t *testing.T) {
	for _, s := range []string{"0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF"} {
		l, err := ParseLSN(s)
		if err != nil || l.String() != s {
			t.Errorf("ParseLSN(%q) = %v (%s), %v", s, uint64(l), l, err)
		}
	}
	if a, b := mustLSN(t, "0/FFFFFFFF"), mustLSN(t, "1/0"); a >= b {
		t.Errorf("%s should sort before %s", a, b)
	}
	if l, err := ParseLSN(""); err != nil || l != 0 {
		t.Errorf(`ParseLSN("") = %v, %v; want 0`, l, err)
	}
	for _, bad := range []string{"16", "x/1", "1/100000000"} {
		if _, err := ParseLSN(bad); err == nil {
			t.Errorf("ParseLSN(%q): want an error", bad)
		}
	}
}

func mustLSN(t *testing.T, s string) LSN {
	l, err := ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The lag is the age of the first position of the primary past what the
// replica replayed: 0 when caught up, however idle the primary.
func TestLagFromSamples(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var m monitor
	for i, lsn := range []LSN{100, 100, 100, 200, 300, 300} {
		m.addSample(t0.Add(time.Duration(i)*time.Second), lsn, time.Minute)
	}
	if len(m.samples) != 3 {
		t.Fatalf("samples %v: an unmoved position is not a new sample", m.samples)
	}
	now := t0.Add(10 * time.Second)
	for _, c := range []struct {
		replayed LSN
		want     time.Duration
	}{
		{300, 0}, {400, 0}, // caught up, primary idle for 5 s
		{250, 6 * time.Second}, // lacks 300, written at t0+4s
		{100, 7 * time.Second}, // lacks 200, written at t0+3s
		{50, 10 * time.Second}, // lacks even the oldest sample
	} {
		if got := lagFromSamples(m.samples, c.replayed, now); got != c.want {
			t.Errorf("lag of a replica at %d = %s, want %s", c.replayed, got, c.want)
		}
	}
	// Out of the window the oldest samples go, but the newest one older
	// than the window stays: a replica behind it is still shown far behind.
	m.addSample(t0.Add(100*time.Second), 400, 10*time.Second)
	if len(m.samples) != 2 || m.samples[0].lsn != 300 {
		t.Errorf("after trimming: %v", m.samples)
	}
	if got := lagFromSamples(m.samples, 250, t0.Add(100*time.Second)); got < 10*time.Second {
		t.Errorf("a replica behind every kept sample shows lag %s, want at least the window", got)
	}
}

// verdict keeps ReadVersion from going back: a replica joins the readers
// only holding the version read so far (and what WaitReplayed waits for).
func TestVerdict(t *testing.T) {
	a, b := &replica{name: "a"}, &replica{name: "b"}
	s := &Store{replicas: []*replica{a, b}, monitor: &monitor{}}
	s.SetMaxReplicaLag(time.Second)
	now := time.Now()
	prev := &readState{version: 10, readers: []*replica{a}}
	ok := func(v int64, lsn LSN) observation { return observation{version: v, replay: lsn} }

	next := s.verdict(prev, []observation{ok(11, 500), ok(9, 500)}, 12, true, now)
	if len(next.readers) != 1 || next.readers[0] != a || next.version != 11 || next.fallback {
		t.Errorf("b behind the version read so far must not join: readers %v, version %d", names(next), next.version)
	}
	next = s.verdict(next, []observation{ok(11, 500), ok(12, 500)}, 12, true, now)
	if len(next.readers) != 2 || next.version != 11 {
		t.Errorf("b caught up joins, version the lowest: readers %v, version %d", names(next), next.version)
	}

	down := observation{err: errors.New("refused")}
	next = s.verdict(next, []observation{down, down}, 13, true, now)
	if !next.fallback || len(next.readers) != 0 || next.version != 13 || !next.followed {
		t.Errorf("all down: want the primary at 13, got readers %v, version %d, fallback %v", names(next), next.version, next.fallback)
	}
	next = s.verdict(next, []observation{ok(12, 500), down}, 13, true, now)
	if !next.fallback {
		t.Error("a replica behind the primary's version read meanwhile must not be read")
	}
	s.minLSN.Store(600)
	next = s.verdict(next, []observation{ok(13, 500), down}, 13, true, now)
	if !next.fallback {
		t.Error("a replica before an LSN waited for must not join")
	}
	next = s.verdict(next, []observation{ok(13, 600), down}, 13, true, now)
	if next.fallback || next.version != 13 {
		t.Errorf("caught up: want a at 13, got readers %v, version %d", names(next), next.version)
	}
	next = s.verdict(next, []observation{down, down}, 0, false, now)
	if !next.fallback || next.followed || next.version != 13 {
		t.Errorf("nothing answers: want the last version, not followed; got %+v", next)
	}
}

func names(st *readState) []string {
	var out []string
	for _, r := range st.readers {
		out = append(out, r.name)
	}
	return out
}

func TestMaxReplicaLagFromEnv(t *testing.T) {
	for v, want := range map[string]time.Duration{"": DefaultMaxReplicaLag, "2s": 2 * time.Second, "1.5": 1500 * time.Millisecond, "250ms": 250 * time.Millisecond} {
		t.Setenv("JIEDAO_MAX_REPLICA_LAG", v)
		if got, err := maxReplicaLagFromEnv(); err != nil || got != want {
			t.Errorf("JIEDAO_MAX_REPLICA_LAG=%q: %s, %v; want %s", v, got, err, want)
		}
	}
	for _, v := range []string{"soon", "-1s", "0"} {
		t.Setenv("JIEDAO_MAX_REPLICA_LAG", v)
		if _, err := maxReplicaLagFromEnv(); err == nil {
			t.Errorf("JIEDAO_MAX_REPLICA_LAG=%q: want an error", v)
		}
	}
}

func TestLagError(t *testing.T) {
	s := &Store{}
	s.SetMaxReplicaLag(5 * time.Second)
	e := s.lagError(&readState{lags: []time.Duration{1200 * time.Millisecond, 300 * time.Millisecond}}, "LSN 0/10", time.Second)
	if !errors.Is(e, ErrReplicaLagging) || e.Lag != 1200*time.Millisecond || e.RetryAfter != 4*time.Second {
		t.Errorf("lag error %+v (%v)", e, e)
	}
}
