// Package auditpg is the audit store on PostgreSQL (github.com/jackc/pgx/v5):
// the hash-chained log of AuditEvents with its search indexes, the GP
// notification outbox, export jobs and their files, shared by every gateway
// node on one database.
//
// One chain for every node: an append locks the single head row
// (SELECT ... FROM audit_head FOR UPDATE) inside its transaction, numbers
// and chains its records after the head it read, and moves the head in the
// same transaction. Appends from all nodes are thereby serialised into one
// gapless chain (a sequence would leave gaps on rollback). Each node groups
// the appends that arrive while a commit runs into its next transaction
// (group commit), and answers each caller only after COMMIT has returned.
//
// Tables: schema.go. Signed checkpoints stay outside the database (files):
// a database administrator is an insider too.
package auditpg

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"mig"
	"mig/audit"
	"mig/internal/pgstore"
)

// Options tune the store. Zero values take the defaults.
type Options struct {
	// MaxBatch bounds the events of one append transaction (default 256);
	// a single Append of more events commits alone.
	MaxBatch int
	// Linger, if set, waits this long before each transaction for more
	// appends to join it. Without it (the default) group commit comes from
	// the appends that queue while the previous commit runs or another
	// node holds the head row: a transaction takes the queue only once it
	// holds the head row.
	Linger time.Duration
	// LockTimeout bounds the wait for the head row, and ends (through
	// idle_in_transaction_session_timeout) a transaction that a node which
	// vanished mid-append left holding it (default 5 s).
	LockTimeout time.Duration
	// Timeout is one batch's deadline, retries and the check of a commit
	// whose answer was lost included (default 15 s).
	Timeout time.Duration
	// Lease is how long an outbox item handed out by Pending stays claimed
	// by that node before another may take it (default 5 min).
	Lease time.Duration
	// Encoder names the gateway in AuditEvents (default audit.DefaultEncoder).
	Encoder *audit.Encoder
	// DefaultLimit caps Search when Query.Limit <= 0 (default 1000).
	DefaultLimit int
}

// Store is the PostgreSQL audit store. It implements audit.Store,
// audit.Outbox, audit.JobStore, audit.ChainHead and audit.ExportFiles.
type Store struct {
	pool      *pgxpool.Pool
	opt       Options
	enc       audit.Encoder
	forceSync bool // the server's synchronous_commit is off: appends turn it on

	mu     sync.Mutex
	queue  []*appendReq
	queued int // events waiting
	closed bool
	wake   chan struct{}
	exited chan struct{}

	batches, events, retries, inDoubt atomic.Uint64
}

var (
	_ audit.Store       = (*Store)(nil)
	_ audit.Outbox      = (*Store)(nil)
	_ audit.JobStore    = (*Store)(nil)
	_ audit.ChainHead   = (*Store)(nil)
	_ audit.ExportFiles = (*Store)(nil)
)

// unavailable is a database failure: 503 AUDIT_UNAVAILABLE, no data.
func unavailable(msg string, err error) error {
	return &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueAuditUnavailable, Message: msg, Err: err}
}

// Open applies the audit migrations and starts the node's committer. The
// pool is shared with the node's other stores; Close does not close it.
func Open(ctx context.Context, pool *pgxpool.Pool, opt Options) (*Store, error) {
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 256
	}
	if opt.LockTimeout <= 0 {
		opt.LockTimeout = 5 * time.Second
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 15 * time.Second
	}
	if opt.Lease <= 0 {
		opt.Lease = 5 * time.Minute
	}
	if opt.DefaultLimit <= 0 {
		opt.DefaultLimit = 1000
	}
	if err := pgstore.Migrate(ctx, pool, component, migrations); err != nil {
		if mig.ErrorCode(err) == mig.EUNAVAILABLE {
			return nil, unavailable("audit store could not be opened", err)
		}
		return nil, fmt.Errorf("audit store: %w", err)
	}
	var sc string
	if err := pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&sc); err != nil {
		return nil, unavailable("audit store could not be opened", err)
	}
	s := &Store{pool: pool, opt: opt, enc: audit.DefaultEncoder, forceSync: sc == "off",
		wake: make(chan struct{}, 1), exited: make(chan struct{})}
	if opt.Encoder != nil {
		s.enc = *opt.Encoder
	}
	go s.committer()
	return s, nil
}

// Close commits the appends already queued, then stops the committer;
// later appends fail (EUNAVAILABLE). The pool stays open.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.signal()
	<-s.exited
	return nil
}

// Stats are the node's append counters (for metrics).
type Stats struct {
	Queued  int    // events waiting for the next transaction
	Batches uint64 // append transactions committed
	Events  uint64 // events committed
	Retries uint64 // batches retried after a failure that stored nothing
	InDoubt uint64 // commits whose answer was lost and had to be looked up
}

// Stats returns the node's append counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	q := s.queued
	s.mu.Unlock()
	return Stats{Queued: q, Batches: s.batches.Load(), Events: s.events.Load(), Retries: s.retries.Load(), InDoubt: s.inDoubt.Load()}
}

// --- append ---

type prepared struct {
	id    string
	body  []byte
	attrs audit.Attrs
}

// appendReq is one Append call waiting for its batch.
type appendReq struct {
	prep  []prepared
	state atomic.Int32 // reqQueued, reqTaken or reqWithdrawn
	done  chan struct{}
	out   []*audit.Stored
	err   error
}

const (
	reqQueued = iota
	reqTaken
	reqWithdrawn
)

func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Append stores events in this node's next transaction and returns them
// numbered and chained once it has committed. An error means none of them
// was stored; a caller whose ctx ends while its events are in a commit
// waits for that commit's answer.
func (s *Store) Append(ctx context.Context, events ...*audit.Event) ([]*audit.Stored, error) {
	if len(events) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("audit append cancelled", err)
	}
	r := &appendReq{prep: make([]prepared, len(events)), done: make(chan struct{})}
	for i, e := range events {
		id := audit.NewID()
		body, err := s.enc.Encode(id, e)
		if err != nil {
			return nil, &mig.Error{Code: mig.EINTERNAL, Message: "audit event could not be encoded", Err: err}
		}
		r.prep[i] = prepared{id: id, body: body, attrs: audit.EventAttrs(e)}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, unavailable("audit store is closed", nil)
	}
	s.queue = append(s.queue, r)
	s.queued += len(r.prep)
	s.mu.Unlock()
	s.signal()
	select {
	case <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqWithdrawn) {
			return nil, unavailable("audit append cancelled", ctx.Err())
		}
		<-r.done // already in a transaction: its outcome is the answer
	}
	return r.out, r.err
}

// take removes queued requests up to MaxBatch events (at least one
// request), skipping withdrawn ones.
func (s *Store) take() []*appendReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	var batch []*appendReq
	n, i := 0, 0
	for ; i < len(s.queue); i++ {
		r := s.queue[i]
		if len(batch) > 0 && n+len(r.prep) > s.opt.MaxBatch {
			break
		}
		s.queued -= len(r.prep)
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			batch = append(batch, r)
			n += len(r.prep)
		}
	}
	clear(s.queue[:i])
	s.queue = s.queue[i:]
	return batch
}

// waiting reports whether a request is queued, dropping withdrawn ones.
func (s *Store) waiting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 && s.queue[0].state.Load() == reqWithdrawn {
		s.queued -= len(s.queue[0].prep)
		s.queue[0] = nil
		s.queue = s.queue[1:]
	}
	return len(s.queue) > 0
}

func (s *Store) committer() {
	defer close(s.exited)
	for {
		<-s.wake
		for s.waiting() {
			if s.opt.Linger > 0 {
				time.Sleep(s.opt.Linger)
			}
			s.commitNext()
		}
		s.mu.Lock()
		closed := s.closed
		if closed {
			for _, r := range s.queue {
				if r.state.CompareAndSwap(reqQueued, reqTaken) {
					r.err = unavailable("audit store is closed", nil)
					close(r.done)
				}
			}
			s.queue, s.queued = nil, 0
		}
		s.mu.Unlock()
		if closed {
			return
		}
	}
}

// commitOutcome says what a failed attempt left behind.
type commitOutcome int

const (
	notStored commitOutcome = iota // nothing of the batch is in the database
	unknown                        // COMMIT was sent and its answer lost
)

// commitNext commits one batch and answers its callers. The batch is
// taken from the queue once the head row is locked, so that the appends
// arriving while another node holds it join this transaction. Failures
// that stored nothing are retried until the batch's deadline.
func (s *Store) commitNext() {
	ctx, cancel := context.WithTimeout(context.Background(), s.opt.Timeout)
	defer cancel()
	var batch []*appendReq
	answer := func(out [][]*audit.Stored, err error) {
		if err == nil && len(batch) > 0 {
			s.batches.Add(1)
		}
		for i, r := range batch {
			if err != nil {
				r.err = err
			} else {
				r.out = out[i]
				s.events.Add(uint64(len(r.prep)))
			}
			close(r.done)
		}
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		out, outcome, err := s.try(ctx, &batch)
		if err == nil {
			answer(out, nil)
			return
		}
		lastErr = err
		if outcome == unknown {
			s.inDoubt.Add(1)
			rctx, rcancel := context.WithTimeout(context.Background(), s.opt.Timeout)
			stored, rerr := s.resolve(rctx, batch[0].prep[0].id)
			rcancel()
			switch {
			case rerr != nil:
				// The database cannot say: the callers are told of a
				// failure, though the records may be stored (an extra
				// record for a request that failed, never a missing one).
				answer(nil, unavailable("audit record could not be confirmed stored", errors.Join(err, rerr)))
				return
			case stored:
				answer(out, nil)
				return
			}
		}
		if !retryable(err) || attempt >= 4 || ctx.Err() != nil {
			break
		}
		s.retries.Add(1)
		t := time.NewTimer(time.Duration(25<<attempt) * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if batch == nil { // the database failed before the head was locked: the failure is theirs
		batch = s.take()
	}
	answer(nil, unavailable("audit record could not be stored", lastErr))
}

// retryable: a connection failure, or the head lock not granted in time.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "55P03" || pe.Code == "40001" || pe.Code == "40P01" || pgstore.Transient(err)
	}
	return pgstore.Transient(err) || errors.Is(err, errTimedOutBeforeSend)
}

var errTimedOutBeforeSend = errors.New("append timed out before commit")

// Append statements.
const (
	sqlLockHead    = `SELECT seq, hash FROM audit_head FOR UPDATE`
	sqlInsertEvent = `INSERT INTO audit_events (seq, id, prev, hash, body, at, emergency, outcome, subtype, nhs, user_id, org, practice)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bigint[], $7::boolean[],
	$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])`
	sqlInsertOutbox = `INSERT INTO audit_outbox (id, seq, practice) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])`
	sqlMoveHead     = `UPDATE audit_head SET seq = $1, hash = $2`
)

// try runs one attempt in two round trips: BEGIN, the settings and the
// head lock; then the inserts, the head's move and COMMIT. With *batch
// nil it takes the batch from the queue once the head is locked.
func (s *Store) try(ctx context.Context, pbatch *[]*appendReq) ([][]*audit.Stored, commitOutcome, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, notStored, err
	}
	defer conn.Release() // a connection left in a transaction is destroyed, not reused
	fail := func(err error) ([][]*audit.Stored, commitOutcome, error) {
		if !conn.Conn().IsClosed() && conn.Conn().PgConn().TxStatus() != 'I' {
			rctx, cancel := context.WithTimeout(context.Background(), time.Second)
			conn.Exec(rctx, "ROLLBACK") //nolint:errcheck // the pool destroys it if this fails
			cancel()
		}
		return nil, notStored, err
	}
	lock := fmt.Sprintf("%dms", max(1, s.opt.LockTimeout.Milliseconds()))
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`)
	b.Queue(`SELECT set_config('lock_timeout', $1, true), set_config('idle_in_transaction_session_timeout', $1, true)`, lock)
	if s.forceSync {
		b.Queue(`SET LOCAL synchronous_commit TO on`)
	}
	var seq uint64
	var head []byte
	b.Queue(sqlLockHead).QueryRow(func(row pgx.Row) error { return row.Scan(&seq, &head) })
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fail(err)
	}
	if len(head) != 32 {
		return fail(fmt.Errorf("audit_head hash is %d bytes", len(head)))
	}
	var prev [32]byte
	copy(prev[:], head)
	if *pbatch == nil {
		*pbatch = s.take()
	}
	batch := *pbatch
	if len(batch) == 0 { // every caller withdrew
		fail(nil)
		return nil, notStored, nil
	}
	n := 0
	for _, r := range batch {
		n += len(r.prep)
	}
	var (
		seqs, ats                               = make([]int64, 0, n), make([]int64, 0, n)
		ids, outs, subs, nhss, users, orgs, prs = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		prevs, hashes, bodies                   = make([][]byte, 0, n), make([][]byte, 0, n), make([][]byte, 0, n)
		emerg                                   = make([]bool, 0, n)
		obIDs, obPractices                      []string
		obSeqs                                  []int64
	)
	out := make([][]*audit.Stored, len(batch))
	for i, r := range batch {
		res := make([]*audit.Stored, 0, len(r.prep))
		for j := range r.prep {
			p := &r.prep[j]
			seq++
			st := &audit.Stored{Seq: seq, ID: p.id, Prev: prev, Body: p.body}
			h := sha256.New()
			h.Write(prev[:])
			h.Write(p.body)
			h.Sum(st.Hash[:0])
			prev = st.Hash
			res = append(res, st)
			a := &p.attrs
			seqs, ids, ats = append(seqs, int64(seq)), append(ids, p.id), append(ats, a.Time)
			prevs, hashes, bodies = append(prevs, st.Prev[:]), append(hashes, st.Hash[:]), append(bodies, p.body)
			emerg, outs, subs = append(emerg, a.Emergency), append(outs, a.Outcome), append(subs, a.Subtype)
			nhss, users, orgs, prs = append(nhss, a.NHSNumber), append(users, a.UserID), append(orgs, a.OrgODS), append(prs, a.Practice)
			if a.Practice != "" {
				obIDs, obSeqs, obPractices = append(obIDs, p.id), append(obSeqs, int64(seq)), append(obPractices, a.Practice)
			}
		}
		out[i] = res
	}
	if ctx.Err() != nil {
		return fail(errTimedOutBeforeSend)
	}
	b = &pgx.Batch{}
	b.Queue(sqlInsertEvent, seqs, ids, prevs, hashes, bodies, ats, emerg, outs, subs, nhss, users, orgs, prs)
	if len(obIDs) > 0 {
		b.Queue(sqlInsertOutbox, obIDs, obSeqs, obPractices)
	}
	b.Queue(sqlMoveHead, int64(seq), prev[:])
	commit := b.Queue(`COMMIT`)
	var tag pgconn.CommandTag
	commit.Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	err = conn.SendBatch(ctx, b).Close()
	switch {
	case tag.String() == "COMMIT": // the server said so: stored, whatever came after
		return out, notStored, nil
	case err == nil:
		return fail(fmt.Errorf("audit append transaction ended with %q", tag.String()))
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code != "57P01" && pe.Code != "57P02" {
		// The server refused a statement: it skipped the rest of the
		// pipeline, COMMIT included (or COMMIT itself failed and rolled back).
		return fail(err)
	}
	// The connection failed after the pipeline was sent: COMMIT may have
	// been carried out.
	return out, unknown, err
}

// resolve finds out whether a batch whose COMMIT went unanswered was
// stored: it takes the head lock, which the batch's transaction held while
// it lived, and then looks for the batch's first record.
func (s *Store) resolve(ctx context.Context, firstID string) (bool, error) {
	var lastErr error
	for attempt := 0; ctx.Err() == nil; attempt++ {
		stored, err := s.lookup(ctx, firstID)
		if err == nil {
			return stored, nil
		}
		lastErr = err
		t := time.NewTimer(time.Duration(min(50<<attempt, 1000)) * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return false, errors.Join(lastErr, ctx.Err())
}

func (s *Store) lookup(ctx context.Context, id string) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SELECT seq FROM audit_head FOR UPDATE`); err != nil {
		return false, err
	}
	var stored bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM audit_events WHERE id = $1)`, id).Scan(&stored)
	return stored, err
}

// --- reads ---

const recordCols = `seq, id, prev, hash, body`

func scanRecord(row pgx.Row) (*audit.Stored, error) {
	var seq int64
	var prev, hash []byte
	st := &audit.Stored{}
	if err := row.Scan(&seq, &st.ID, &prev, &hash, &st.Body); err != nil {
		return nil, err
	}
	if len(prev) != 32 || len(hash) != 32 {
		return nil, errFormat
	}
	st.Seq = uint64(seq)
	copy(st.Prev[:], prev)
	copy(st.Hash[:], hash)
	return st, nil
}

var errFormat = errors.New("malformed audit record")

// Get returns the event with the AuditEvent id (ENOTFOUND when absent).
func (s *Store) Get(ctx context.Context, id string) (*audit.Stored, error) {
	st, err := scanRecord(s.pool.QueryRow(ctx, `SELECT `+recordCols+` FROM audit_events WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, mig.Errorf(mig.ENOTFOUND, "no audit event with that id")
	}
	if err != nil {
		return nil, unavailable("audit store could not be read", err)
	}
	return st, nil
}

// scanChunk is how many records Scan reads per query.
const scanChunk = 256

// Scan calls fn for every event with Seq > after, in order, reading 256
// records per query and calling fn outside any query.
func (s *Store) Scan(ctx context.Context, after uint64, fn func(*audit.Stored) error) error {
	buf := make([]*audit.Stored, 0, scanChunk)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf = buf[:0]
		rows, err := s.pool.Query(ctx, `SELECT `+recordCols+` FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`, int64(after), scanChunk)
		if err != nil {
			return unavailable("audit store could not be read", err)
		}
		for rows.Next() {
			st, err := scanRecord(rows)
			if err != nil {
				rows.Close()
				return unavailable("audit store could not be read", err)
			}
			buf = append(buf, st)
		}
		if err := rows.Err(); err != nil {
			return unavailable("audit store could not be read", err)
		}
		for _, st := range buf {
			if err := fn(st); err != nil {
				return err
			}
			after = st.Seq
		}
		if len(buf) < scanChunk {
			return nil
		}
	}
}

// Search returns matching events in Seq order, at most q.Limit (the
// store's default limit when q.Limit <= 0).
func (s *Store) Search(ctx context.Context, q audit.Query) ([]*audit.Stored, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = s.opt.DefaultLimit
	}
	if q.OrgODS != nil && len(q.OrgODS) == 0 {
		return nil, nil
	}
	where, args := []string{"seq > $1"}, []any{int64(q.AfterSeq)}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.NHSNumber != "" {
		where = append(where, "nhs = "+arg(q.NHSNumber))
	}
	if q.Agent != "" {
		where = append(where, "user_id = "+arg(q.Agent))
	}
	switch {
	case q.Outcome == audit.OutcomeSuccess:
		where = append(where, "outcome = "+arg(q.Outcome))
	case q.Outcome != "":
		where = append(where, "outcome = "+arg(q.Outcome)+" AND outcome <> '0'") // the partial index's predicate
	}
	switch {
	case q.Subtype == "read" || q.Subtype == "search-type":
		where = append(where, "subtype = "+arg(q.Subtype))
	case q.Subtype == audit.SubtypeEmergencyOverride:
		where = append(where, "(emergency OR (subtype = "+arg(q.Subtype)+" AND subtype NOT IN ('read', 'search-type')))")
	case q.Subtype != "":
		where = append(where, "subtype = "+arg(q.Subtype)+" AND subtype NOT IN ('read', 'search-type')")
	}
	if !q.Since.IsZero() {
		where = append(where, "at >= "+arg(q.Since.UnixNano()))
	}
	if !q.Until.IsZero() {
		where = append(where, "at < "+arg(q.Until.UnixNano()))
	}
	if q.OrgODS != nil {
		// An event by the organisation's staff or about its patients; an
		// empty code matches nothing (as no index holds it).
		o := arg(q.OrgODS)
		where = append(where, "((org = ANY("+o+") AND org <> '') OR (practice = ANY("+o+") AND practice <> ''))")
	}
	sql := `SELECT ` + recordCols + ` FROM audit_events WHERE ` + joinAnd(where) + ` ORDER BY seq LIMIT ` + arg(limit)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, s.readError(ctx, err)
	}
	defer rows.Close()
	var out []*audit.Stored
	for rows.Next() {
		st, err := scanRecord(rows)
		if err != nil {
			return nil, s.readError(ctx, err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, s.readError(ctx, err)
	}
	return out, nil
}

func (s *Store) readError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return unavailable("audit store could not be read", err)
}

func joinAnd(parts []string) string {
	out := parts[0]
	for _, p := range parts[1:] {
		out += " AND " + p
	}
	return out
}

// Last returns the Seq and Hash of the last record (seq 0 and the zero
// hash when there is none).
func (s *Store) Last(ctx context.Context) (seq uint64, hash [32]byte, err error) {
	var n int64
	var h []byte
	if err := s.pool.QueryRow(ctx, `SELECT seq, hash FROM audit_head`).Scan(&n, &h); err != nil {
		return 0, hash, unavailable("audit store could not be read", err)
	}
	if len(h) != 32 {
		return 0, hash, unavailable("audit store could not be read", errFormat)
	}
	copy(hash[:], h)
	return uint64(n), hash, nil
}

// Head returns the Seq and Hash of the last record: what a signed
// checkpoint covers (audit.ChainHead).
func (s *Store) Head(ctx context.Context) (uint64, [32]byte, error) { return s.Last(ctx) }

// HashAt returns the chain hash of record seq; ok is false for a seq the
// store does not hold.
func (s *Store) HashAt(ctx context.Context, seq uint64) (hash [32]byte, ok bool, err error) {
	var h []byte
	err = s.pool.QueryRow(ctx, `SELECT hash FROM audit_events WHERE seq = $1`, int64(seq)).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return hash, false, nil
	}
	if err != nil {
		return hash, false, unavailable("audit store could not be read", err)
	}
	copy(hash[:], h)
	return hash, len(h) == 32, nil
}

// --- import (migctl store copy) ---

// Import appends records that are already numbered and chained (from
// another store), with their search fields rebuilt from their bodies. It
// refuses unless recs[0] follows the head (Seq head+1, Prev the head's
// hash), each record's Hash is SHA-256(Prev || Body) and each links to the
// one before. It queues no notifications (ImportOutbox carries the pending
// ones over).
func (s *Store) Import(ctx context.Context, recs ...*audit.Stored) error {
	if len(recs) == 0 {
		return nil
	}
	n := len(recs)
	var (
		seqs, ats                               = make([]int64, 0, n), make([]int64, 0, n)
		ids, outs, subs, nhss, users, orgs, prs = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		prevs, hashes, bodies                   = make([][]byte, 0, n), make([][]byte, 0, n), make([][]byte, 0, n)
		emerg                                   = make([]bool, 0, n)
	)
	for i, st := range recs {
		if sha256Of(st.Prev, st.Body) != st.Hash {
			return mig.Errorf(mig.EINVALID, "import: record %d's hash does not match it", st.Seq)
		}
		if i > 0 && (st.Seq != recs[i-1].Seq+1 || st.Prev != recs[i-1].Hash) {
			return mig.Errorf(mig.EINVALID, "import: record %d does not follow record %d", st.Seq, recs[i-1].Seq)
		}
		d, err := audit.Decode(st.Body)
		if err != nil || d.ID != st.ID {
			return mig.Errorf(mig.EINVALID, "import: record %d's body is not its AuditEvent", st.Seq)
		}
		a := audit.ExpectedAttrs(d, audit.Attrs{})
		seqs, ids, ats = append(seqs, int64(st.Seq)), append(ids, st.ID), append(ats, a.Time)
		prevs, hashes, bodies = append(prevs, st.Prev[:]), append(hashes, st.Hash[:]), append(bodies, st.Body)
		emerg, outs, subs = append(emerg, a.Emergency), append(outs, a.Outcome), append(subs, a.Subtype)
		nhss, users, orgs, prs = append(nhss, a.NHSNumber), append(users, a.UserID), append(orgs, a.OrgODS), append(prs, a.Practice)
	}
	last := recs[n-1]
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var seq int64
		var head []byte
		if err := tx.QueryRow(ctx, sqlLockHead).Scan(&seq, &head); err != nil {
			return err
		}
		if uint64(seq)+1 != recs[0].Seq || string(head) != string(recs[0].Prev[:]) {
			return mig.Errorf(mig.ECONFLICT, "import: record %d does not follow the store's head (seq %d)", recs[0].Seq, seq)
		}
		if _, err := tx.Exec(ctx, sqlInsertEvent, seqs, ids, prevs, hashes, bodies, ats, emerg, outs, subs, nhss, users, orgs, prs); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sqlMoveHead, int64(last.Seq), last.Hash[:])
		return err
	})
	if err != nil {
		if mig.ErrorCode(err) != mig.EINTERNAL {
			return err
		}
		return unavailable("audit records could not be imported", err)
	}
	return nil
}

func sha256Of(prev [32]byte, body []byte) (sum [32]byte) {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(body)
	h.Sum(sum[:0])
	return sum
}

// --- the checkpoint place hint ---

// SetCheckpointPlace records where the checkpoint log and public key are
// (a hint for migctl audit verify; the checkpoints stay outside the
// database).
func (s *Store) SetCheckpointPlace(ctx context.Context, p audit.CheckpointPlace) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_meta (key, value) VALUES ('checkpoint_log', $1), ('checkpoint_pub', $2)
ON CONFLICT (key) DO UPDATE SET value = excluded.value`, p.Log, p.PublicKey)
	if err != nil {
		return unavailable("audit store could not be updated", err)
	}
	return nil
}

// CheckpointPlace reads where the gateway said its checkpoints are (empty
// if it never said).
func (s *Store) CheckpointPlace(ctx context.Context) (p audit.CheckpointPlace, err error) {
	rows, err := s.pool.Query(ctx, `SELECT key, value FROM audit_meta WHERE key IN ('checkpoint_log', 'checkpoint_pub')`)
	if err != nil {
		return p, unavailable("audit store could not be read", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return p, unavailable("audit store could not be read", err)
		}
		if k == "checkpoint_log" {
			p.Log = v
		} else {
			p.PublicKey = v
		}
	}
	if err := rows.Err(); err != nil {
		return p, unavailable("audit store could not be read", err)
	}
	return p, nil
}
