// Package pgtest gives tests a real PostgreSQL: a fresh database on the
// server named by MIG_TEST_POSTGRES_URL (what `bash .ci/run` starts), or a
// private throwaway cluster a test may stop and restart.
//
// Without MIG_TEST_POSTGRES_URL the tests skip with a clear message, unless
// MIG_REQUIRE_POSTGRES=1 (set by .ci/run), where a missing database fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mig/internal/pgstore"
)

// EnvURL names the admin URL of the test server.
const EnvURL = "MIG_TEST_POSTGRES_URL"

// EnvRequire, set to 1, turns a missing server into a failure.
const EnvRequire = "MIG_REQUIRE_POSTGRES"

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("PostgreSQL required (%s=1) but %s", EnvRequire, why)
	}
	t.Skipf("SKIP: PostgreSQL tests need a server: %s (set %s, or run bash .ci/run)", why, EnvURL)
}

// URL returns the URL of a new, empty database on the test server, dropped
// when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		unavailable(t, EnvURL+" is not set")
	}
	return NewDatabase(t, admin)
}

// NewDatabase creates a fresh database on the server at admin and returns
// its URL; it is dropped (connections forced off) when the test ends.
func NewDatabase(t testing.TB, admin string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unavailable(t, fmt.Sprintf("cannot connect: %v", err))
	}
	defer conn.Close(context.Background())
	var b [6]byte
	rand.Read(b[:])
	name := "mig_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return // the server is gone (a test stopped it); nothing to drop
		}
		defer c.Close(context.Background())
		c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Pool opens a pool on url (pgstore.Connect: what the gateway opens),
// closed when the test ends; maxConns 0 takes pgx's default.
func Pool(t testing.TB, url string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	pool, err := pgstore.Connect(context.Background(), pgstore.Options{URL: url, MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Cluster is a private PostgreSQL server in a temporary folder, for tests
// that stop or restart the database.
type Cluster struct {
	t       testing.TB
	bin     string
	dir     string
	port    int
	asUser  string // run the server as this user (initdb refuses root)
	running bool
}

// BinDir finds PostgreSQL's server programs: $MIG_TEST_POSTGRES_BIN, or the
// newest /usr/lib/postgresql/*/bin.
func BinDir() string {
	if d := os.Getenv("MIG_TEST_POSTGRES_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) < version(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// NewCluster initialises and starts a private cluster on a free loopback
// port; it is stopped and removed when the test ends. It needs the test
// server's programs, so it skips (or fails under MIG_REQUIRE_POSTGRES=1)
// where they are missing.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := BinDir()
	if bin == "" {
		unavailable(t, "no PostgreSQL server programs under /usr/lib/postgresql/*/bin")
	}
	dir, err := os.MkdirTemp("", "mig-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			unavailable(t, "running as root and there is no postgres user to run the server as")
		}
		c.asUser = "postgres"
		if out, err := exec.Command("chown", "-R", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
	}
	t.Cleanup(func() {
		c.Stop()
		os.RemoveAll(dir)
	})
	if out, err := c.run("initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	c.port = freePort(t)
	c.Start()
	return c
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) run(prog string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, prog)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.dir
	return cmd.CombinedOutput()
}

// URL is the cluster's admin URL (database postgres).
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", c.port, c.dir)
	if out, err := c.run("pg_ctl", "-D", c.data(), "-o", opts, "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		c.t.Fatalf("pg_ctl start: %v: %s\n%s", err, out, tail(log))
	}
	c.running = true
}

// Stop stops the server at once (fast shutdown: connections are cut).
func (c *Cluster) Stop() {
	if !c.running {
		return
	}
	c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop") //nolint:errcheck
	c.running = false
}

// Restart stops and starts the server on the same port.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.Stop()
	c.Start()
}

func tail(b []byte) string {
	s := string(b)
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return strings.TrimSpace(s)
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
