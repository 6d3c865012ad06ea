package auditpg

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"mig"
	"mig/audit"
)

// partSize is the most an export file part holds.
const partSize = 1 << 20

// abandonAfter is how long an attempt's parts may go unwritten before a
// committing attempt of the same job takes them for a dead worker's.
const abandonAfter = time.Hour

// Export files live in the database, so that any node can serve any job:
// a file is written in parts of up to 1 MiB under an attempt id of its
// own (a worker presumed dead may still be writing its attempt), and
// becomes the job's file when its attempt commits.

// Create starts job id's file.
func (s *Store) Create(ctx context.Context, id string) (audit.ExportFile, error) {
	return &dbFile{s: s, ctx: ctx, job: id, attempt: audit.NewID(), buf: make([]byte, 0, partSize)}, nil
}

type dbFile struct {
	s       *Store
	ctx     context.Context // the job's
	job     string
	attempt string
	buf     []byte
	n       int   // parts written
	size    int64 // bytes written
	err     error
}

func (f *dbFile) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	w := len(p)
	for len(p) > 0 {
		k := min(len(p), partSize-len(f.buf))
		f.buf = append(f.buf, p[:k]...)
		p = p[k:]
		if len(f.buf) == partSize {
			if err := f.flush(f.ctx); err != nil {
				return w - len(p), err
			}
		}
	}
	return w, nil
}

func (f *dbFile) flush(ctx context.Context) error {
	if len(f.buf) == 0 {
		return nil
	}
	_, err := f.s.pool.Exec(ctx, `INSERT INTO audit_export_parts (job, attempt, n, data, written) VALUES ($1, $2, $3, $4, $5)`,
		f.job, f.attempt, f.n, f.buf, time.Now().UnixNano())
	if err != nil {
		f.err = unavailable("export file could not be stored", err)
		return f.err
	}
	f.n++
	f.size += int64(len(f.buf))
	f.buf = f.buf[:0]
	return nil
}

// Commit stores the last part and makes this attempt the job's file. It
// drops the parts of the attempt it replaces, and of any other attempt
// not written to for abandonAfter (its worker died mid-write); an attempt
// still being written is left to commit or abort itself.
func (f *dbFile) Commit(ctx context.Context) (string, error) {
	if err := f.flush(ctx); err != nil {
		return "", err
	}
	err := pgx.BeginFunc(ctx, f.s.pool, func(tx pgx.Tx) error {
		var old string
		err := tx.QueryRow(ctx, `SELECT attempt FROM audit_export_files WHERE job = $1 FOR UPDATE`, f.job).Scan(&old)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_export_files (job, attempt, parts, size) VALUES ($1, $2, $3, $4)
ON CONFLICT (job) DO UPDATE SET attempt = excluded.attempt, parts = excluded.parts, size = excluded.size`, f.job, f.attempt, f.n, f.size); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM audit_export_parts p WHERE job = $1 AND attempt <> $2 AND (attempt = $3
	OR (SELECT max(written) FROM audit_export_parts q WHERE q.job = p.job AND q.attempt = p.attempt) < $4)`,
			f.job, f.attempt, old, time.Now().Add(-abandonAfter).UnixNano())
		return err
	})
	if err != nil {
		return "", unavailable("export file could not be stored", err)
	}
	return "postgres:audit_export_files/" + f.job, nil
}

// Abort drops this attempt's parts (best effort: an attempt that never
// commits is never read).
func (f *dbFile) Abort() {
	ctx, cancel := context.WithTimeout(context.Background(), f.s.opt.LockTimeout)
	defer cancel()
	f.s.pool.Exec(ctx, `DELETE FROM audit_export_parts WHERE job = $1 AND attempt = $2`, f.job, f.attempt) //nolint:errcheck
}

// Open reads job id's committed file, one part per query.
func (s *Store) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	r := &partReader{s: s, ctx: ctx, job: id}
	err := s.pool.QueryRow(ctx, `SELECT attempt, parts FROM audit_export_files WHERE job = $1`, id).Scan(&r.attempt, &r.parts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, mig.Errorf(mig.ENOTFOUND, "export file not found")
	}
	if err != nil {
		return nil, unavailable("export file could not be read", err)
	}
	return r, nil
}

type partReader struct {
	s       *Store
	ctx     context.Context
	job     string
	attempt string
	parts   int
	next    int
	buf     []byte
}

func (r *partReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.next >= r.parts {
			return 0, io.EOF
		}
		err := r.s.pool.QueryRow(r.ctx, `SELECT data FROM audit_export_parts WHERE job = $1 AND attempt = $2 AND n = $3`, r.job, r.attempt, r.next).Scan(&r.buf)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, unavailable("export file is incomplete", io.ErrUnexpectedEOF)
		}
		if err != nil {
			return 0, unavailable("export file could not be read", err)
		}
		r.next++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *partReader) Close() error { return nil }
