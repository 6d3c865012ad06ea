package auditpg_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mig"
	"mig/audit"
	auditpg "mig/audit/pg"
	"mig/audit/storetest"
	"mig/internal/pgtest"
)

func events(seed uint64, n int) []*audit.Event {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]*audit.Event, n)
	for i := range out {
		out[i] = storetest.Event(rng, i, 20, 5)
	}
	return out
}

func verifyOK(t *testing.T, s *auditpg.Store, last uint64) {
	t.Helper()
	rep, err := s.Verify(context.Background(), audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.LastSeq != last {
		t.Fatalf("verify: last %d (want %d), problems %v", rep.LastSeq, last, rep.Problems)
	}
}

// TestAnsweredOnlyAfterCommit holds the head row from another session:
// appends wait, answer nothing, and are then committed together (group
// commit) once it is released.
func TestAnsweredOnlyAfterCommit(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	pool := connect(t, url)
	s := open(t, pool, auditpg.Options{})
	if _, err := s.Append(ctx, events(1, 1)...); err != nil {
		t.Fatal(err)
	}
	before := s.Stats()
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `SELECT seq FROM audit_head FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	const callers = 40
	var answered atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i, e := range events(2, callers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := s.Append(ctx, e)
			if err != nil {
				errs <- err
				return
			}
			if st[0].Seq < 2 || st[0].Seq > callers+1 {
				errs <- fmt.Errorf("caller %d got seq %d", i, st[0].Seq)
			}
			answered.Add(1)
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if n := answered.Load(); n != 0 {
		t.Fatalf("%d appends answered while the head row was locked", n)
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	after := s.Stats()
	if after.Events-before.Events != callers {
		t.Fatalf("%d events committed, want %d", after.Events-before.Events, callers)
	}
	// One transaction for the caller that was waiting on the lock, then
	// the rest together: not one per caller.
	if b := after.Batches - before.Batches; b > 4 {
		t.Fatalf("%d transactions for %d concurrent appends: no group commit", b, callers)
	}
	verifyOK(t, s, callers+1)
}

// TestHeadLockTimeout: a head row held past LockTimeout fails the append
// with 503 AUDIT_UNAVAILABLE, and nothing of it is stored.
func TestHeadLockTimeout(t *testing.T) {
	ctx := context.Background()
	pool := connect(t, pgtest.URL(t))
	s := open(t, pool, auditpg.Options{LockTimeout: 200 * time.Millisecond, Timeout: time.Second})
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `SELECT seq FROM audit_head FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.Append(ctx, events(3, 2)...)
	if mig.ErrorCode(err) != mig.EUNAVAILABLE || mig.ErrorIssue(err) != mig.IssueAuditUnavailable {
		t.Fatalf("append under a held lock: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("append took %s to fail", d)
	}
	holder.Rollback(ctx)
	st, err := s.Append(ctx, events(4, 1)...)
	if err != nil || st[0].Seq != 1 {
		t.Fatalf("append after the lock was released: %v %v", st, err)
	}
	verifyOK(t, s, 1)
}

// TestOutage stops PostgreSQL: appends and reads fail at once with 503
// AUDIT_UNAVAILABLE; when it is back the same store works again, and the
// chain goes on without a gap.
func TestOutage(t *testing.T) {
	ctx := context.Background()
	c := pgtest.NewCluster(t)
	pool := connect(t, pgtest.NewDatabase(t, c.URL()))
	s := open(t, pool, auditpg.Options{Timeout: 3 * time.Second})
	if _, err := s.Append(ctx, events(5, 3)...); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	start := time.Now()
	_, err := s.Append(ctx, events(6, 1)...)
	if mig.ErrorCode(err) != mig.EUNAVAILABLE || mig.ErrorIssue(err) != mig.IssueAuditUnavailable {
		t.Fatalf("append with the database down: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("append took %s to fail", d)
	}
	if _, err := s.Search(ctx, audit.Query{}); mig.ErrorCode(err) != mig.EUNAVAILABLE {
		t.Fatalf("search with the database down: %v", err)
	}
	if _, _, err := s.Head(ctx); mig.ErrorCode(err) != mig.EUNAVAILABLE {
		t.Fatalf("head with the database down: %v", err)
	}
	c.Start()
	var st []*audit.Stored
	for i := 0; i < 20; i++ { // the pool reconnects
		if st, err = s.Append(ctx, events(7, 1)...); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || st[0].Seq != 4 {
		t.Fatalf("append after the database came back: %v %v", st, err)
	}
	verifyOK(t, s, 4)
}

// TestRestartUnderLoad restarts PostgreSQL, then stops it for a second,
// while appenders run: every answered event is stored, no failed one is,
// and the chain is gapless.
func TestRestartUnderLoad(t *testing.T) {
	ctx := context.Background()
	c := pgtest.NewCluster(t)
	pool := connect(t, pgtest.NewDatabase(t, c.URL()))
	s := open(t, pool, auditpg.Options{})
	var mu sync.Mutex
	var answered, failed []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e := storetest.Event(rng, i, 20, 5)
				e.RequestID = fmt.Sprintf("w%d-%d", w, i)
				st, err := s.Append(ctx, e)
				mu.Lock()
				if err != nil {
					failed = append(failed, e.RequestID)
				} else {
					answered = append(answered, st[0].ID)
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	c.Restart() // quick: the appends in flight are retried
	time.Sleep(300 * time.Millisecond)
	c.Stop() // until appends fail: longer than the retries and any in-doubt lookup
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := len(failed)
		mu.Unlock()
		if n > 0 {
			break
		}
	}
	c.Start()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d answered, %d failed; stats %+v", len(answered), len(failed), s.Stats())
	if len(failed) == 0 {
		t.Fatal("no append failed while the database was down")
	}
	for _, id := range answered {
		if _, err := s.Get(ctx, id); err != nil {
			t.Fatalf("answered event %s not stored: %v", id, err)
		}
	}
	recs := 0
	failedSet := map[string]bool{}
	for _, r := range failed {
		failedSet[r] = true
	}
	if err := s.Scan(ctx, 0, func(st *audit.Stored) error {
		recs++
		d, err := audit.Decode(st.Body)
		if err != nil {
			return err
		}
		if failedSet[d.RequestID] {
			return fmt.Errorf("a failed append's event %s is stored", d.RequestID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if recs != len(answered) {
		t.Fatalf("%d records stored, %d answered", recs, len(answered))
	}
	verifyOK(t, s, uint64(recs))
}

// cutProxy forwards connections to PostgreSQL; armed, it cuts the first
// connection that sends an append's COMMIT, before or after passing it on.
type cutProxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32 // 0 pass, 1 cut before COMMIT, 2 cut after COMMIT
	cuts   atomic.Int32
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cutProxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	defer client.Close()
	defer server.Close()
	var mute atomic.Bool // the server's answers are lost from now on
	go func() {
		defer client.Close() // the server hung up: so does the proxy
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && !mute.Load() {
				if _, err := client.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if bytes.Contains(chunk, []byte("COMMIT")) && bytes.Contains(chunk, []byte("UPDATE audit_head")) {
				switch mode := p.mode.Load(); {
				case mode == 1 && p.mode.CompareAndSwap(1, 0):
					p.cuts.Add(1)
					return // the server sees the client vanish mid-transaction
				case mode == 2 && p.mode.CompareAndSwap(2, 0):
					mute.Store(true)
					server.Write(chunk)
					time.Sleep(300 * time.Millisecond) // the server commits; its answer is lost
					p.cuts.Add(1)
					return
				}
			}
			if _, err := server.Write(chunk); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestCommitAnswerLost cuts the connection around COMMIT: with the
// answer lost the store looks the batch up under the head lock and answers
// from what it finds; cut before, it retries. Either way the caller is
// answered once and the chain has the event once.
func TestCommitAnswerLost(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	p := newCutProxy(t, fmt.Sprintf("%s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port))
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", uint16(p.ln.Addr().(*net.TCPAddr).Port)
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec // statement text on the wire, for the proxy to see
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := open(t, pool, auditpg.Options{})
	if _, err := s.Append(ctx, events(8, 1)...); err != nil {
		t.Fatal(err)
	}
	for i, mode := range []int32{2, 1} {
		p.mode.Store(mode)
		st, err := s.Append(ctx, events(uint64(10+i), 3)...)
		if err != nil {
			t.Fatalf("mode %d: %v", mode, err)
		}
		if p.cuts.Load() != int32(i+1) {
			t.Fatalf("mode %d: the proxy did not cut", mode)
		}
		if st[0].Seq != uint64(2+3*i) {
			t.Fatalf("mode %d: seq %d", mode, st[0].Seq)
		}
	}
	stats := s.Stats()
	if stats.InDoubt != 2 || stats.Retries < 1 {
		t.Fatalf("stats %+v: want 2 lost answers and a retry", stats)
	}
	verifyOK(t, s, 7)
}

// TestKilledNode SIGKILLs a node (a child process) while it appends: every
// event it answered is stored, and the chain verifies.
func TestKilledNode(t *testing.T) {
	if url := os.Getenv("MIG_AUDITPG_CHILD"); url != "" {
		childAppender(url)
		return
	}
	ctx := context.Background()
	url := pgtest.URL(t)
	pool := connect(t, url)
	s := open(t, pool, auditpg.Options{})
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledNode$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MIG_AUDITPG_CHILD="+url)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "answered "); ok {
			ids = append(ids, id)
		}
		if len(ids) == 300 {
			cmd.Process.Kill()
			break
		}
	}
	for sc.Scan() { // what was written before the kill
		if id, ok := strings.CutPrefix(sc.Text(), "answered "); ok {
			ids = append(ids, id)
		}
	}
	cmd.Wait()
	if len(ids) < 300 {
		t.Fatalf("the child answered only %d appends", len(ids))
	}
	for _, id := range ids {
		if _, err := s.Get(ctx, id); err != nil {
			t.Fatalf("answered event %s lost: %v", id, err)
		}
	}
	seq, _, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, s, seq)
	// The killed node's transaction, if any, ended: this node appends.
	if st, err := s.Append(ctx, events(9, 1)...); err != nil || st[0].Seq != seq+1 {
		t.Fatalf("append after the kill: %v %v", st, err)
	}
}

// childAppender is the node TestKilledNode kills: it appends from 8
// goroutines and prints each answered id.
func childAppender(url string) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		os.Exit(2)
	}
	s, err := auditpg.Open(ctx, pool, auditpg.Options{})
	if err != nil {
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for i := 0; ; i++ {
				st, err := s.Append(ctx, storetest.Event(rng, i, 20, 5))
				if err != nil {
					continue
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "answered %s\n", st[0].ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestImport copies a chain into an empty store: refused unless it
// follows the head and every hash holds; the copy verifies and answers
// searches as the original does; pending notifications come along.
func TestImport(t *testing.T) {
	ctx := context.Background()
	src := open(t, connect(t, pgtest.URL(t)), auditpg.Options{})
	dst := open(t, connect(t, pgtest.URL(t)), auditpg.Options{})
	evs := events(12, 700)
	for i := 0; i < len(evs); i += 100 {
		if _, err := src.Append(ctx, evs[i:i+100]...); err != nil {
			t.Fatal(err)
		}
	}
	var recs []*audit.Stored
	if err := src.Scan(ctx, 0, func(st *audit.Stored) error { recs = append(recs, st); return nil }); err != nil {
		t.Fatal(err)
	}
	bad := *recs[1]
	bad.Body = storetest.AlterBody(bad.Body)
	for name, try := range map[string][]*audit.Stored{
		"not from the head": recs[1:5],
		"altered body":      {recs[0], &bad, recs[2]},
		"not linked":        {recs[0], recs[2]},
	} {
		if err := dst.Import(ctx, try...); err == nil {
			t.Fatalf("%s: imported", name)
		}
	}
	if seq, _, _ := dst.Head(ctx); seq != 0 {
		t.Fatalf("refused imports stored up to seq %d", seq)
	}
	for i := 0; i < len(recs); i += 256 {
		if err := dst.Import(ctx, recs[i:min(i+256, len(recs))]...); err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.Import(ctx, recs[5]); err == nil {
		t.Fatal("a record imported twice")
	}
	verifyOK(t, dst, 700)
	for _, q := range []audit.Query{{NHSNumber: evs[3].NHSNumber}, {Agent: evs[4].UserID, Limit: 20}, {OrgODS: []string{"A99901"}}, {Subtype: audit.SubtypeEmergencyOverride}} {
		a, err := src.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := dst.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != len(b) || len(a) == 0 {
			t.Fatalf("query %+v: %d records in the copy, %d in the original", q, len(b), len(a))
		}
		for i := range a {
			if a[i].Seq != b[i].Seq || a[i].Hash != b[i].Hash {
				t.Fatalf("query %+v: the copy answers otherwise", q)
			}
		}
	}
	// Notifications: none queued by the import; ImportOutbox carries them.
	if got, _ := dst.Pending(ctx, time.Now(), 1000); len(got) != 0 {
		t.Fatalf("import queued %d notifications", len(got))
	}
	pending, err := src.Pending(ctx, time.Now(), 1000)
	if err != nil || len(pending) == 0 {
		t.Fatal(pending, err)
	}
	pending[0].Attempts, pending[0].Next = 2, time.Now().Add(-time.Minute)
	orphan := audit.OutboxItem{ID: audit.NewID(), Seq: 9999, Practice: "A99902", Body: []byte(`{"resourceType":"AuditEvent"}`)}
	if err := dst.ImportOutbox(ctx, append(pending, orphan)...); err != nil {
		t.Fatal(err)
	}
	got, err := dst.Pending(ctx, time.Now(), 1000)
	if err != nil || len(got) != len(pending)+1 {
		t.Fatalf("%d notifications after import, want %d (%v)", len(got), len(pending)+1, err)
	}
	byID := map[string]audit.OutboxItem{}
	for _, it := range got {
		byID[it.ID] = it
	}
	for _, it := range append(pending, orphan) {
		g := byID[it.ID]
		if !bytes.Equal(g.Body, it.Body) || g.Practice != it.Practice || g.Attempts != it.Attempts || g.Seq != it.Seq {
			t.Fatalf("imported notification %s differs", it.ID)
		}
	}
	verifyOK(t, dst, 700)
}

// TestSynchronousCommitForced: on a database whose synchronous_commit is
// off, the store's append transactions turn it back on.
func TestSynchronousCommitForced(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	admin := connect(t, url)
	var db string
	if err := admin.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{db}.Sanitize()+` SET synchronous_commit = off`); err != nil {
		t.Fatal(err)
	}
	pool := connect(t, url) // new sessions take the database's setting
	var sc string
	if err := pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&sc); err != nil || sc != "off" {
		t.Fatalf("setting: %q %v", sc, err)
	}
	s := open(t, pool, auditpg.Options{})
	// A trigger records the setting each append runs under.
	if _, err := admin.Exec(ctx, `CREATE TABLE seen (v text);
CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO seen VALUES (current_setting('synchronous_commit')); RETURN NULL; END $$;
CREATE TRIGGER note AFTER UPDATE ON audit_head FOR EACH STATEMENT EXECUTE FUNCTION note();`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, events(13, 2)...); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := admin.QueryRow(ctx, `SELECT v FROM seen`).Scan(&v); err != nil || v != "on" {
		t.Fatalf("append ran with synchronous_commit %q (%v)", v, err)
	}
}

// TestClose: appends after Close fail; Close does not close the pool.
func TestClose(t *testing.T) {
	ctx := context.Background()
	pool := connect(t, pgtest.URL(t))
	s := open(t, pool, auditpg.Options{})
	if _, err := s.Append(ctx, events(14, 1)...); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Append(ctx, events(15, 1)...); mig.ErrorCode(err) != mig.EUNAVAILABLE {
		t.Fatalf("append after close: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		t.Fatal("Close closed the pool:", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, pool, auditpg.Options{})
	if st, err := s2.Append(ctx, events(16, 1)...); err != nil || st[0].Seq != 2 {
		t.Fatalf("reopened: %v %v", st, err)
	}
	if _, err := auditpg.Open(ctx, pool, auditpg.Options{}); err != nil {
		t.Fatal("migrations re-applied:", err)
	}
}
