package adapters_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig"
	"mig/adapters"
	"mig/adapters/record"
	"mig/adapters/source"
)

// fakeSource serves one extract and one registration entry from memory.
type fakeSource struct {
	extract []byte
	demo    *record.Patient
	err     error
}

func (f *fakeSource) Fetch(ctx context.Context, nhs string) (io.ReadCloser, error) {
	if f.err != nil {
		return nil, f.err
	}
	return io.NopCloser(strings.NewReader(string(f.extract))), nil
}

func (f *fakeSource) Patients(ctx context.Context, fn func(string) error) error { return nil }

func (f *fakeSource) Demographics(ctx context.Context, nhs string) (*record.Patient, error) {
	if f.demo == nil {
		return nil, mig.PatientNotFound()
	}
	d := *f.demo
	return &d, nil
}

func (f *fakeSource) Notify(context.Context, source.Notification) error { return nil }

func onDay(y int, m time.Month, d int) record.Date {
	return record.Date{T: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), P: record.PrecisionDay}
}

// TestReader: the Reader fetches live, checks identity against the request
// and the demographics source, and explains GP-system faults by practice.
func TestReader(t *testing.T) {
	tpp, err := os.ReadFile(filepath.Join("..", "testdata", "A99903", "9990003009.xml"))
	if err != nil {
		t.Fatal(err)
	}
	const nhs = "9990003009"
	registered := &record.Patient{NHSNumber: nhs, Name: record.NewHumanName("Mrs", []string{"Ann"}, "Tpp"),
		BirthDate: onDay(1950, 3, 14), Sex: record.SexFemale, PracticeODS: "A99903"}
	moved := *registered
	moved.PracticeODS = "A99901"
	otherBirth := *registered
	otherBirth.BirthDate = onDay(1951, 3, 14)
	yearOnly := *registered
	yearOnly.BirthDate = record.Date{T: time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC), P: record.PrecisionYear}

	for _, tc := range []struct {
		name     string
		src      *fakeSource
		asked    string
		code     string // "" for success
		mismatch bool
		check    func(t *testing.T, rec *record.Record)
	}{
		{name: "demographics merged", src: &fakeSource{extract: tpp, demo: registered}, asked: nhs,
			check: func(t *testing.T, rec *record.Record) {
				if rec.Patient.Name.Family() != "Tpp" || rec.Patient.Sex != record.SexFemale || rec.Patient.Deducted {
					t.Errorf("patient %+v", rec.Patient)
				}
			}},
		{name: "no registration entry: the extract's own demographics", src: &fakeSource{extract: tpp}, asked: nhs,
			check: func(t *testing.T, rec *record.Record) {
				if rec.Patient.NHSNumber != nhs || rec.Patient.PracticeODS == "" {
					t.Errorf("patient %+v", rec.Patient)
				}
			}},
		{name: "registered elsewhere now: deducted", src: &fakeSource{extract: tpp, demo: &moved}, asked: nhs,
			check: func(t *testing.T, rec *record.Record) {
				if !rec.Patient.Deducted {
					t.Error("a patient registered at another practice is not marked deducted")
				}
			}},
		{name: "birth year agrees at year precision", src: &fakeSource{extract: tpp, demo: &yearOnly}, asked: nhs},
		{name: "birth date disagrees", src: &fakeSource{extract: tpp, demo: &otherBirth}, asked: nhs, code: mig.ENOTFOUND, mismatch: true},
		{name: "extract about someone else", src: &fakeSource{extract: tpp, demo: registered}, asked: "9990003017", code: mig.ENOTFOUND, mismatch: true},
		{name: "not held", src: &fakeSource{err: mig.Errorf(mig.ENOTFOUND, "practice A99903 holds no record")}, asked: nhs, code: mig.ENOTFOUND},
		{name: "GP system down", src: &fakeSource{err: &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueGPSystemUnavailable, Message: "the GP system of practice A99903 is not answering"}}, asked: nhs, code: mig.EUNAVAILABLE},
		{name: "unreadable extract", src: &fakeSource{extract: []byte("<PatientRecord><FREETEXT-secret>")}, asked: nhs, code: mig.EUNAVAILABLE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &adapters.Reader{
				Practices: map[string]*source.Practice{"A99903": {ODS: "A99903", Format: "tpp", Source: tc.src}},
				Locator:   fixedLocator("A99903"),
			}
			rec, err := r.Read(context.Background(), "A99903", tc.asked)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.check != nil {
					tc.check(t, rec)
				}
				return
			}
			if got := mig.ErrorCode(err); got != tc.code {
				t.Fatalf("error %v (code %s), want code %s", err, got, tc.code)
			}
			if got := errors.Is(err, adapters.ErrIdentityMismatch); got != tc.mismatch {
				t.Errorf("identity mismatch marked = %v, want %v", got, tc.mismatch)
			}
			msg := mig.ErrorMessage(err)
			if tc.code == mig.ENOTFOUND && msg != mig.PatientNotFound().Message {
				t.Errorf("not-found message %q differs from the one answer", msg)
			}
			if tc.code == mig.EUNAVAILABLE && !strings.Contains(msg, "A99903") {
				t.Errorf("message %q does not name the practice", msg)
			}
			if strings.Contains(msg, "FREETEXT") || strings.Contains(msg, tc.asked) {
				t.Errorf("message %q carries content or the NHS number", msg)
			}
		})
	}
}

func TestLocateChecks(t *testing.T) {
	r := &adapters.Reader{Practices: map[string]*source.Practice{}, Locator: fixedLocator("A99903")}
	if _, err := r.Locate(context.Background(), "9990003008"); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("bad check digit: %v", err)
	}
	// The locator names a practice this gateway does not serve.
	if _, err := r.Locate(context.Background(), "9990003009"); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Errorf("unserved practice: %v", err)
	}
}
