package audit

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"mig"
)

// WriteNDJSON writes every stored AuditEvent with Seq > afterSeq recorded at
// or after since (zero: all), one per line, each line the stored body, in
// Seq order and constant memory. progress, if set, is called every 1000
// events and at the end with the last Seq written and the count. It returns
// the last Seq written (afterSeq when none).
func WriteNDJSON(ctx context.Context, store Store, w io.Writer, since time.Time, afterSeq uint64, progress func(seq, n uint64)) (last uint64, err error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	last = afterSeq
	var n uint64
	err = store.Scan(ctx, afterSeq, func(s *Stored) error {
		if !since.IsZero() {
			t, err := RecordedTime(s.Body)
			if err != nil {
				return err
			}
			if t.Before(since) {
				return nil
			}
		}
		if _, err := bw.Write(s.Body); err != nil {
			return err
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
		last, n = s.Seq, n+1
		if progress != nil && n%1000 == 0 {
			progress(last, n)
		}
		return nil
	})
	if err == nil {
		err = bw.Flush()
	}
	if progress != nil {
		progress(last, n)
	}
	return last, err
}

// RecordedTime reads AuditEvent.recorded from a stored body without
// decoding the rest.
func RecordedTime(body []byte) (time.Time, error) {
	const key = `"recorded":"`
	for i := 0; i+len(key) < len(body); i++ {
		if body[i] == '"' && string(body[i:i+len(key)]) == key {
			rest := body[i+len(key):]
			for j, c := range rest {
				if c == '"' {
					return time.Parse(time.RFC3339Nano, string(rest[:j]))
				}
			}
			break
		}
	}
	return time.Time{}, invalid("no recorded time")
}

// Export job statuses.
const (
	JobQueued   = "queued"
	JobRunning  = "running"
	JobComplete = "complete"
	JobFailed   = "failed"
)

// ExportJob is one Bulk Data style asynchronous export of the audit log.
type ExportJob struct {
	ID       string    `json:"id"`
	Since    time.Time `json:"since"`
	AfterSeq uint64    `json:"afterSeq"`
	Status   string    `json:"status"`
	Output   string    `json:"output,omitempty"` // where the .ndjson file is (ExportFile.Commit), once complete
	Error    string    `json:"error,omitempty"`  // content-free reason, when failed
	Last     uint64    `json:"last"`             // last Seq written
	Count    uint64    `json:"count"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// JobStore keeps export jobs (audit/bolt.Store implements it).
type JobStore interface {
	PutJob(ctx context.Context, j *ExportJob) error
	// GetJob returns the job or a *mig.Error ENOTFOUND.
	GetJob(ctx context.Context, id string) (*ExportJob, error)
	// ClaimJob atomically marks the oldest queued job (or a running job not
	// updated since staleBefore, its worker presumed dead) running at now
	// and returns it; nil when there is none.
	ClaimJob(ctx context.Context, now, staleBefore time.Time) (*ExportJob, error)
}

// ExportFiles keeps the finished files of export jobs where every node
// that may be asked for a job can read them: a directory (ExportDir, beside
// a bbolt store) or the database (audit/pg).
type ExportFiles interface {
	// Create starts job id's file. Nothing of it can be opened before
	// Commit; Abort discards it. A later Create for the same id (another
	// worker re-running a stale job) replaces it when it commits.
	Create(ctx context.Context, id string) (ExportFile, error)
	// Open reads job id's committed file (ENOTFOUND when there is none).
	Open(ctx context.Context, id string) (io.ReadCloser, error)
}

// ExportFile is one export file being written.
type ExportFile interface {
	io.Writer
	// Commit makes the file durable and readable, and returns where it is
	// (ExportJob.Output).
	Commit(ctx context.Context) (string, error)
	// Abort discards what was written.
	Abort()
}

// ExportJobs runs exports: Kickoff records a job, a worker (Work or RunNext,
// on any node) claims and runs it, Status reads it, Open reads its file. No
// state is kept in the process.
type ExportJobs struct {
	jobs  JobStore
	store Store
	files ExportFiles
	now   func() time.Time
	lease time.Duration
}

// NewExportJobs returns the export runner writing .ndjson files to files.
func NewExportJobs(jobs JobStore, store Store, files ExportFiles) *ExportJobs {
	return &ExportJobs{jobs: jobs, store: store, files: files, now: time.Now, lease: 5 * time.Minute}
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// NewID returns a random UUID (version 4), the form of AuditEvent and job ids.
func NewID() string { return newID() }

// Kickoff records a queued export of events after afterSeq recorded at or
// after since.
func (x *ExportJobs) Kickoff(ctx context.Context, since time.Time, afterSeq uint64) (*ExportJob, error) {
	now := x.now().UTC()
	j := &ExportJob{ID: newID(), Since: since.UTC(), AfterSeq: afterSeq, Status: JobQueued, Created: now, Updated: now}
	if err := x.jobs.PutJob(ctx, j); err != nil {
		return nil, err
	}
	return j, nil
}

// Status returns the job (ENOTFOUND when unknown).
func (x *ExportJobs) Status(ctx context.Context, id string) (*ExportJob, error) {
	return x.jobs.GetJob(ctx, id)
}

// RunNext claims one job and runs it to completion; it reports whether
// there was one.
func (x *ExportJobs) RunNext(ctx context.Context) (bool, error) {
	now := x.now().UTC()
	j, err := x.jobs.ClaimJob(ctx, now, now.Add(-x.lease))
	if err != nil || j == nil {
		return false, err
	}
	return true, x.run(ctx, j)
}

func (x *ExportJobs) run(ctx context.Context, j *ExportJob) error {
	fail := func(msg string, cause error) error {
		j.Status, j.Error, j.Updated = JobFailed, msg, x.now().UTC()
		if err := x.jobs.PutJob(context.WithoutCancel(ctx), j); err != nil {
			return err
		}
		return &mig.Error{Code: mig.EINTERNAL, Message: msg, Err: cause}
	}
	f, err := x.files.Create(ctx, j.ID)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fail("export file could not be created", err)
	}
	lastBeat := x.now()
	last, err := WriteNDJSON(ctx, x.store, f, j.Since, j.AfterSeq, func(seq, n uint64) {
		j.Last, j.Count = seq, n
		if now := x.now(); now.Sub(lastBeat) > x.lease/4 {
			lastBeat = now
			j.Updated = now.UTC()
			_ = x.jobs.PutJob(ctx, j) // heartbeat; a failure only risks a re-run
		}
	})
	if err != nil {
		f.Abort()
		if errors.Is(err, context.Canceled) {
			return err // left running: another worker takes it over after the lease
		}
		return fail("export could not be written", err)
	}
	out, err := f.Commit(ctx)
	if err != nil {
		f.Abort()
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fail("export file could not be stored", err)
	}
	j.Status, j.Output, j.Last, j.Updated = JobComplete, out, last, x.now().UTC()
	if err := x.jobs.PutJob(ctx, j); err != nil {
		return fmt.Errorf("export job state: %w", err)
	}
	return nil
}

// Open reads a complete job's file (ENOTFOUND when the job is unknown or
// not complete).
func (x *ExportJobs) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	j, err := x.jobs.GetJob(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.Status != JobComplete {
		return nil, mig.Errorf(mig.ENOTFOUND, "export file not ready")
	}
	return x.files.Open(ctx, j.ID)
}

// ExportDir keeps export files in dir (one node's data directory, beside
// a bbolt store): written to a temporary file, fsync'd, then renamed to
// <id>.ndjson.
func ExportDir(dir string) ExportFiles { return exportDir(dir) }

type exportDir string

// exportName checks that id is a job id (a UUID's characters only), so it
// names a file inside the directory.
func exportName(id string) error {
	if id == "" || len(id) > 64 {
		return mig.Errorf(mig.ENOTFOUND, "no export with that id")
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == '-') {
			return mig.Errorf(mig.ENOTFOUND, "no export with that id")
		}
	}
	return nil
}

func (d exportDir) Create(ctx context.Context, id string) (ExportFile, error) {
	if err := exportName(id); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(string(d), id+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &dirFile{f: f, final: filepath.Join(string(d), id+".ndjson")}, nil
}

func (d exportDir) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := exportName(id); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(string(d), id+".ndjson"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, mig.Errorf(mig.ENOTFOUND, "export file not found")
	}
	return f, err
}

type dirFile struct {
	f     *os.File
	final string
}

func (w *dirFile) Write(p []byte) (int, error) { return w.f.Write(p) }

func (w *dirFile) Commit(ctx context.Context) (string, error) {
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.final)
	}
	if err != nil {
		return "", err
	}
	return w.final, nil
}

func (w *dirFile) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// Work runs queued jobs until ctx ends, polling every poll.
func (x *ExportJobs) Work(ctx context.Context, poll time.Duration) error {
	for {
		ran, _ := x.RunNext(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ran {
			continue
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
