// Package adapters turns a GP practice's live extract into the neutral
// coded record: the format registry (formats.go) and the Reader, which
// locates the patient's practice, fetches the extract at request time,
// parses it, merges demographics and fills terminology translations.
// Nothing is stored: every Read goes to the GP system.
package adapters

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"mig"
	"mig/adapters/record"
	"mig/adapters/source"
	"mig/adapters/xmltok"
)

// Locator says which practice holds an NHS number.
type Locator interface {
	Locate(ctx context.Context, nhs string) (string, error)
}

// Demographics is a deployment-wide demographics source (PDS); when nil
// each practice's own registration list is used.
type Demographics interface {
	Demographics(ctx context.Context, nhs string) (*record.Patient, error)
}

// Translator fills SNOMED translations an extract lacks (terminology
// maps), returning how many codings it added.
type Translator interface {
	Fill(rec *record.Record) int
}

// Reader reads patients' records live from their practices.
type Reader struct {
	Practices    map[string]*source.Practice // by ODS code
	Locator      Locator
	Demographics Demographics // optional: PDS
	Translator   Translator   // optional
	Options      record.ParseOptions
	// FetchTimeout bounds one fetch + parse (default 10 s); GP Connect's
	// ceiling for a query is 3 s, so deployments usually set less.
	FetchTimeout time.Duration
}

// Locate returns the ODS code of the practice holding nhs.
func (r *Reader) Locate(ctx context.Context, nhs string) (string, error) {
	if !mig.ValidNHSNumber(nhs) {
		return "", &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidNHSNumber, Message: "NHS number must be 10 digits with a valid check digit"}
	}
	ods, err := r.Locator.Locate(ctx, nhs)
	if err != nil {
		return "", err
	}
	if _, ok := r.Practices[ods]; !ok {
		return "", mig.PatientNotFound()
	}
	return ods, nil
}

// Read fetches and parses the patient's current record from the practice,
// checks that the extract is about the patient asked for, and merges the
// demographics source. A record whose identity disagrees with demographics
// fails safe as not found (the reason goes to audit, not to the client).
func (r *Reader) Read(ctx context.Context, practice, nhs string) (*record.Record, error) {
	p, ok := r.Practices[practice]
	if !ok {
		return nil, mig.PatientNotFound()
	}
	timeout := r.FetchTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	body, err := r.fetch(ctx, p, nhs)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	opt := r.Options
	opt.NHSNumber = nhs
	rec, err := Parse(p.Format, body, opt)
	if err != nil {
		return nil, sourceError(practice, err)
	}
	// Drain what the parser did not need, so keep-alive connections are reused.
	io.Copy(io.Discard, io.LimitReader(body, 1<<20))

	demo, err := r.demographics(ctx, p, nhs)
	if err != nil {
		return nil, err
	}
	if demo != nil {
		if err := merge(&rec.Patient, demo, practice); err != nil {
			return nil, err
		}
	}
	if rec.Patient.PracticeODS == "" {
		rec.Patient.PracticeODS = practice
	}
	if r.Translator != nil {
		r.Translator.Fill(rec)
	}
	return rec, nil
}

// Extract names one fetched extract: whose it is, where it came from, its
// format and its bytes' SHA-256. Two fetches with equal Extracts returned
// the same bytes.
type Extract struct {
	Practice, NHSNumber, Format string
	SHA256                      [sha256.Size]byte
	Size                        int
}

// ParseCache keeps records parsed from extracts already seen (fhir/rest's
// Cache). Parsed returns the record parsed from x's bytes: one it holds, or
// the one parse makes (which it may keep). parse reports whether the adapter
// read the clock: such a record holds judgements about the present (a TPP
// course still running) and must not be reused at another time. A record
// Parsed returns is shared with other requests: never change it.
type ParseCache interface {
	Parsed(x Extract, parse func() (rec *record.Record, clocked bool, err error)) (*record.Record, error)
}

// ReadShared is Read through a ParseCache: the extract is still fetched
// live, every time, and its bytes hashed; identical bytes are parsed once
// (for the same practice, patient and format). The identity check against
// nhs and the demographics merge run on every call. now is the clock the
// adapter judges the present by (zero: Options.Now). The record returned
// is the caller's, but its Entries (and what they point to) are shared
// with the cache: copy an entry before changing it (record.Tag changes
// Views and NotShown).
func (r *Reader) ReadShared(ctx context.Context, practice, nhs string, now time.Time, pc ParseCache) (*record.Record, Extract, error) {
	p, ok := r.Practices[practice]
	if !ok {
		return nil, Extract{}, mig.PatientNotFound()
	}
	timeout := r.FetchTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	body, err := r.fetch(ctx, p, nhs)
	if err != nil {
		return nil, Extract{}, err
	}
	defer body.Close()
	limit := r.Options.Limits.MaxBytes
	if limit <= 0 {
		limit = xmltok.DefaultLimits.MaxBytes
	}
	buf, rerr := io.ReadAll(io.LimitReader(body, limit+1))
	io.Copy(io.Discard, io.LimitReader(body, 1<<20)) // as Read: keep-alive connections are reused
	x := Extract{Practice: practice, NHSNumber: nhs, Format: p.Format, SHA256: sha256.Sum256(buf), Size: len(buf)}
	parse := func() (*record.Record, bool, error) {
		opt := r.Options
		opt.NHSNumber = nhs
		clock := opt.Clock()
		clocked := false
		opt.Now = func() time.Time {
			clocked = true
			if !now.IsZero() {
				return now
			}
			return clock()
		}
		// A read error or an oversize document reaches the parser as it
		// would have streaming, so it fails exactly as Read does.
		var in io.Reader = bytes.NewReader(buf)
		if rerr != nil {
			in = io.MultiReader(in, errReader{rerr})
		}
		rec, err := Parse(p.Format, in, opt)
		if err != nil {
			return nil, clocked, sourceError(practice, err)
		}
		if r.Translator != nil {
			r.Translator.Fill(rec) // the entries only: before demographics, unlike Read, to the same effect
		}
		return rec, clocked, nil
	}
	var shared *record.Record
	if rerr != nil || int64(len(buf)) > limit {
		// Not read whole: never kept, and the parser refuses it as it
		// would have streaming.
		if shared, _, err = parse(); err != nil {
			return nil, x, err
		}
	} else if shared, err = pc.Parsed(x, parse); err != nil {
		return nil, x, err
	}
	// The identity check, every time: the parse checked the extract against
	// nhs, and the key holds nhs; this says so again for this request.
	if shared.Patient.NHSNumber != "" && shared.Patient.NHSNumber != nhs {
		nf := mig.PatientNotFound()
		nf.Err = ErrIdentityMismatch
		return nil, x, nf
	}
	rec := *shared // the Patient is this request's to merge into
	demo, err := r.demographics(ctx, p, nhs)
	if err != nil {
		return nil, x, err
	}
	if demo != nil {
		if err := merge(&rec.Patient, demo, practice); err != nil {
			return nil, x, err
		}
	}
	if rec.Patient.PracticeODS == "" {
		rec.Patient.PracticeODS = practice
	}
	return &rec, x, nil
}

// fetch opens the extract, a practice's "no such patient" answered as not
// found.
func (r *Reader) fetch(ctx context.Context, p *source.Practice, nhs string) (io.ReadCloser, error) {
	body, err := p.Source.Fetch(ctx, nhs)
	if err != nil {
		if mig.ErrorCode(err) == mig.ENOTFOUND {
			nf := mig.PatientNotFound()
			nf.Err = err
			return nil, nf
		}
		return nil, err
	}
	return body, nil
}

// errReader fails every read with err: the tail of a body whose read failed.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func (r *Reader) demographics(ctx context.Context, p *source.Practice, nhs string) (*record.Patient, error) {
	var demo *record.Patient
	var err error
	if r.Demographics != nil {
		demo, err = r.Demographics.Demographics(ctx, nhs)
	} else {
		demo, err = p.Source.Demographics(ctx, nhs)
	}
	if mig.ErrorCode(err) == mig.ENOTFOUND {
		return nil, nil // the extract's own demographics stand
	}
	return demo, err
}

// ErrIdentityMismatch marks a record whose identity disagrees with the
// demographics source. Clients see PATIENT_NOT_FOUND.
var ErrIdentityMismatch = errors.New("extract and demographics disagree on identity")

// merge lays demographics over the extract's patient. NHS number or birth
// date disagreeing fails safe rather than showing a mixed record.
func merge(p *record.Patient, d *record.Patient, practice string) error {
	notFound := mig.PatientNotFound()
	notFound.Err = ErrIdentityMismatch
	if d.NHSNumber != "" && p.NHSNumber != "" && d.NHSNumber != p.NHSNumber {
		return notFound
	}
	if !d.BirthDate.IsZero() && !p.BirthDate.IsZero() && !sameDay(d.BirthDate, p.BirthDate) {
		return notFound
	}
	if d.NHSNumber != "" {
		p.NHSNumber = d.NHSNumber
	}
	if !d.Name.IsZero() {
		p.Name = d.Name
	}
	if !d.BirthDate.IsZero() {
		p.BirthDate = d.BirthDate
	}
	if d.Sex != record.SexUnknown {
		p.Sex = d.Sex
	}
	if !d.Address.IsZero() {
		p.Address = d.Address
	}
	if d.PracticeODS != "" {
		p.PracticeODS = d.PracticeODS
	}
	p.Deceased = p.Deceased || d.Deceased
	if !d.DeceasedDate.IsZero() {
		p.DeceasedDate = d.DeceasedDate
	}
	p.Deducted = p.Deducted || d.Deducted || (d.PracticeODS != "" && d.PracticeODS != practice)
	p.Sensitive = p.Sensitive || d.Sensitive
	return nil
}

func sameDay(a, b record.Date) bool {
	ay, am, ad := a.T.Date()
	by, bm, bd := b.T.Date()
	switch {
	case a.P == record.PrecisionYear || b.P == record.PrecisionYear:
		return ay == by
	case a.P == record.PrecisionMonth || b.P == record.PrecisionMonth:
		return ay == by && am == bm
	}
	return ay == by && am == bm && ad == bd
}

// sourceError explains a parse failure of a live extract: the GP system
// sent something we cannot read. It is the GP system's fault, not the
// client's, so it is reported as the practice's system being unusable.
func sourceError(practice string, err error) error {
	var me *mig.Error
	if errors.As(err, &me) {
		switch me.Issue {
		case mig.IssueIdentityMismatch:
			nf := mig.PatientNotFound()
			nf.Err = fmt.Errorf("%w: %w", ErrIdentityMismatch, err)
			return nf
		case mig.IssueMalformedExtract:
			// Element names come from the document, so the path is not
			// shown to clients: the line and the reason are. (migctl map
			// gives the full path to whoever holds the file.)
			reason := "unreadable document"
			var xe *xmltok.Error
			if errors.As(err, &xe) {
				reason = fmt.Sprintf("line %d: %s", xe.Line, xe.Reason)
			}
			return &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueGPSystemUnavailable,
				Message: "the GP system of practice " + practice + " returned a record that cannot be read (" + reason + ")", Err: err}
		}
	}
	return err
}
