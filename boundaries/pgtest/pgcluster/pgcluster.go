// Package pgcluster starts a PostgreSQL primary and a hot standby of a
// test's own with scripts/cluster.sh, for the tests of reading from
// replicas. It imports nothing of the module, so the store's own tests can
// use it.
package pgcluster

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Cluster is a primary and a standby in a folder of the test's own.
type Cluster struct {
	Dir, Primary, Standby string
	script, port          string
}

// Start starts the cluster and stops it when the test ends; it skips the
// test when PostgreSQL's server binaries or PostGIS are missing (and fails
// under JIEDAO_REQUIRE_TOOLS). portBase keeps two packages' clusters
// running at the same time on different ports.
func Start(t testing.TB, portBase int) *Cluster {
	t.Helper()
	for _, f := range []string{"/usr/lib/postgresql/15/bin/initdb", "/usr/lib/postgresql/15/bin/pg_basebackup",
		"/usr/share/postgresql/15/extension/postgis.control"} {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv("JIEDAO_REQUIRE_TOOLS") != "" {
				t.Fatalf("%s is missing (PostgreSQL 15 server and PostGIS 3): run scripts/testdeps.sh", f)
			}
			t.Skipf("%s is missing: skipping the primary+standby test (scripts/testdeps.sh installs it; JIEDAO_REQUIRE_TOOLS=1 fails instead)", f)
		}
	}
	dir, err := os.MkdirTemp("", "jiedao-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	_, here, _, _ := runtime.Caller(0)
	c := &Cluster{Dir: dir, script: filepath.Join(filepath.Dir(here), "..", "..", "..", "scripts", "cluster.sh"),
		port: fmt.Sprint(portBase + os.Getpid()%20000)}
	t.Cleanup(func() {
		if out, err := c.Script("down"); err != nil {
			t.Logf("cluster down: %v\n%s", err, out)
		}
		os.RemoveAll(dir)
	})
	out, err := c.Script("up")
	if err != nil {
		t.Fatalf("cluster up: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "DATABASE_URL":
			c.Primary = v
		case "JIEDAO_READ_DATABASE_URL":
			c.Standby = v
		}
	}
	if c.Primary == "" || c.Standby == "" {
		t.Fatalf("cluster up printed no URLs:\n%s", out)
	}
	return c
}

// Script runs scripts/cluster.sh on the cluster (pause, resume, stop
// standby …); stdout is returned, with stderr after it on failure. The
// servers run without fsync: tests, not data.
func (c *Cluster) Script(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{c.script}, args...)...)
	cmd.Env = append(os.Environ(), "JIEDAO_CLUSTER_DIR="+c.Dir, "JIEDAO_CLUSTER_PORT="+c.port,
		"JIEDAO_CLUSTER_PG_OPTS=-c fsync=off -c full_page_writes=off")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}
