package source

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"mig"
	"mig/adapters/record"
)

// DirOptions configures a directory source.
type DirOptions struct {
	ODS       string // the practice's ODS code
	Path      string // directory holding <NHS number>.xml extracts and patients.json
	AccessLog string // JSON-lines file access notifications are appended to; must lie outside Path
}

// Dir is a practice whose GP system drops extracts in a directory: one
// <NHS number>.xml per patient and the registration list patients.json.
// Files are read at request time, never cached, so an edited extract is seen
// on the next Fetch. Access notifications are appended, one JSON object a
// line ({"id":..., "event":<AuditEvent>}), to AccessLog, idempotently by id
// across every process (gateway node) appending to the same log.
type Dir struct {
	ods, path, log string

	demoMu sync.Mutex
	demo   map[string]*PatientJSON
	demoAt time.Time
	demoSz int64

	logMu   sync.Mutex          // one append at a time in this process (the file lock is between processes)
	seen    map[string]struct{} // ids in the log's first scanned bytes; nil until read
	scanned int64               // bytes of the log read into seen: complete lines only
	logFile os.FileInfo         // the log file read (a log replaced or cut is read afresh)
}

var _ Source = (*Dir)(nil)

// NewDir checks the options and returns the source. It fails when Path is
// not a directory or AccessLog is empty or inside Path.
func NewDir(o DirOptions) (*Dir, error) {
	if o.ODS == "" {
		return nil, mig.Errorf(mig.EINVALID, "directory source: ODS code required")
	}
	abs, err := filepath.Abs(o.Path)
	if err != nil {
		return nil, &mig.Error{Code: mig.EINVALID, Message: "directory source " + o.ODS + ": bad path", Err: err}
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, &mig.Error{Code: mig.EINVALID, Message: "directory source " + o.ODS + ": extract path is not a directory", Err: err}
	}
	if o.AccessLog == "" {
		return nil, mig.Errorf(mig.EINVALID, "directory source %s: access log file required", o.ODS)
	}
	logAbs, err := filepath.Abs(o.AccessLog)
	if err != nil {
		return nil, &mig.Error{Code: mig.EINVALID, Message: "directory source " + o.ODS + ": bad access log path", Err: err}
	}
	if inside(realPath(abs), realPath(logAbs)) {
		return nil, mig.Errorf(mig.EINVALID, "directory source %s: access log must be outside the extract directory", o.ODS)
	}
	return &Dir{ods: o.ODS, path: abs, log: logAbs}, nil
}

// realPath resolves symbolic links in p, or in its deepest existing parent.
func realPath(p string) string {
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// inside reports whether p is dir or below it.
func inside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// ODS returns the practice's ODS code.
func (d *Dir) ODS() string { return d.ods }

func (d *Dir) unavailable(err error) error {
	return &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueGPSystemUnavailable,
		Message: "GP system of practice " + d.ods + " unavailable", Err: err}
}

func checkNHS(nhs string) error {
	if !mig.ValidNHSNumber(nhs) {
		return &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidNHSNumber, Message: "not a valid NHS number"}
	}
	return nil
}

func notFound(ods, what string) error {
	return &mig.Error{Code: mig.ENOTFOUND, Issue: mig.IssuePatientNotFound,
		Message: "practice " + ods + " holds no " + what + " for the patient"}
}

// Fetch opens <Path>/<nhs>.xml.
func (d *Dir) Fetch(ctx context.Context, nhs string) (io.ReadCloser, error) {
	if err := checkNHS(nhs); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxError(d.ods, err)
	}
	f, err := os.Open(filepath.Join(d.path, nhs+".xml"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(d.ods, "record")
	} else if err != nil {
		return nil, d.unavailable(err)
	}
	return f, nil
}

// Patients calls fn with the name of every <NHS number>.xml file whose name
// is a valid NHS number.
func (d *Dir) Patients(ctx context.Context, fn func(nhs string) error) error {
	f, err := os.Open(d.path)
	if err != nil {
		return d.unavailable(err)
	}
	defer f.Close()
	for {
		names, err := f.Readdirnames(1024)
		for _, n := range names {
			nhs, ok := strings.CutSuffix(n, ".xml")
			if !ok || !mig.ValidNHSNumber(nhs) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return ctxError(d.ods, err)
			}
			if err := fn(nhs); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		} else if err != nil {
			return d.unavailable(err)
		}
	}
}

// Demographics reads the patient's entry of <Path>/patients.json, re-read
// whenever the file's modification time or size changes.
func (d *Dir) Demographics(ctx context.Context, nhs string) (*record.Patient, error) {
	if err := checkNHS(nhs); err != nil {
		return nil, err
	}
	list, err := d.registrations()
	if err != nil {
		return nil, err
	}
	p, ok := list[nhs]
	if !ok {
		return nil, notFound(d.ods, "registration")
	}
	out, err := p.Patient(d.ods)
	if err != nil {
		return nil, &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueGPSystemUnavailable,
			Message: "practice " + d.ods + " registration list: bad entry: " + mig.ErrorMessage(err), Err: err}
	}
	return out, nil
}

func (d *Dir) registrations() (map[string]*PatientJSON, error) {
	name := filepath.Join(d.path, "patients.json")
	d.demoMu.Lock()
	defer d.demoMu.Unlock()
	fi, err := os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		d.demo = nil
		return nil, notFound(d.ods, "registration")
	} else if err != nil {
		return nil, d.unavailable(err)
	}
	if d.demo != nil && fi.ModTime().Equal(d.demoAt) && fi.Size() == d.demoSz {
		return d.demo, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, d.unavailable(err)
	}
	var list []*PatientJSON
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueGPSystemUnavailable,
			Message: "practice " + d.ods + " registration list is not valid JSON", Err: err}
	}
	m := make(map[string]*PatientJSON, len(list))
	for _, p := range list {
		if p != nil {
			m[p.NHSNumber] = p
		}
	}
	d.demo, d.demoAt, d.demoSz = m, fi.ModTime(), fi.Size()
	return m, nil
}

// accessLine is one line of the access log.
type accessLine struct {
	ID    string          `json:"id"`
	Event json.RawMessage `json:"event"`
}

// Notify appends the notification to the access log and fsyncs it, unless
// a line with the same id is already there: a second delivery, from this
// node or another sharing the log, is a no-op. The check and the append
// are made under an exclusive lock on the log file itself (flock), after
// reading whatever was appended since this process last looked, so the log
// on disk is the one record of what was delivered; the ids held in memory
// only spare re-reading the lines already read.
func (d *Dir) Notify(ctx context.Context, n Notification) error {
	if n.ID == "" {
		return mig.Errorf(mig.EINVALID, "access notification: id required")
	}
	if !json.Valid(n.Body) {
		return mig.Errorf(mig.EINVALID, "access notification: body is not JSON")
	}
	line, err := json.Marshal(accessLine{ID: n.ID, Event: json.RawMessage(n.Body)})
	if err != nil {
		return &mig.Error{Code: mig.EINVALID, Message: "access notification: body is not JSON", Err: err}
	}
	line = append(line, '\n')

	d.logMu.Lock()
	defer d.logMu.Unlock()
	if err := ctx.Err(); err != nil {
		return ctxError(d.ods, err)
	}
	f, err := os.OpenFile(d.log, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return d.unavailable(err)
	}
	defer f.Close() // closing also releases the lock
	if err := lockFile(f); err != nil {
		return d.unavailable(err)
	}
	fi, err := f.Stat()
	if err != nil {
		return d.unavailable(err)
	}
	if d.seen == nil || d.logFile == nil || !os.SameFile(d.logFile, fi) || fi.Size() < d.scanned {
		// First use, or the log was replaced or cut: read it from the start.
		d.seen, d.scanned = map[string]struct{}{}, 0
	}
	d.logFile = fi
	if fi.Size() > d.scanned {
		if d.scanned, err = scanAccessLog(f, d.scanned, fi.Size(), d.seen); err != nil {
			return d.unavailable(err)
		}
	}
	if _, dup := d.seen[n.ID]; dup {
		return nil
	}
	end := fi.Size()
	if end > d.scanned {
		// The log ends in a partial line (a crash mid-write): close it, so
		// ours starts on a line of its own.
		line = append([]byte{'\n'}, line...)
	}
	if _, err = f.WriteAt(line, end); err == nil {
		err = f.Sync()
	}
	if err != nil {
		return d.unavailable(err)
	}
	d.seen[n.ID] = struct{}{}
	d.scanned = end + int64(len(line))
	return nil
}

// scanAccessLog adds the ids of the complete lines of f between from and
// to to seen, and returns the offset after the last complete line: a
// partial last line (a crash mid-write) is left for later.
func scanAccessLog(f *os.File, from, to int64, seen map[string]struct{}) (int64, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, from, to-from), 64*1024)
	off := from
	for {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 && b[len(b)-1] == '\n' {
			off += int64(len(b))
			var l struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(b, &l) == nil && l.ID != "" {
				seen[l.ID] = struct{}{}
			}
		}
		if err == io.EOF {
			return off, nil
		} else if err != nil {
			return off, err
		}
	}
}

// ctxError turns a context error into a gateway error naming the practice.
func ctxError(ods string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &mig.Error{Code: mig.ETIMEOUT, Issue: mig.IssueGPSystemUnavailable,
			Message: "GP system of practice " + ods + " did not answer in time", Err: err}
	}
	return &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueGPSystemUnavailable,
		Message: "request to the GP system of practice " + ods + " cancelled", Err: err}
}
