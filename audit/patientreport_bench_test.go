package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"mig/audit"
	"mig/audit/bolt"
	"mig/consent"
)

// BenchmarkPatientReport: one patient's report from a trail of 20,000
// events of which 50 are the patient's, read from the live store (its
// patient index) and from an archived segment (every body scanned, only
// the patient's decoded). Compare the two in one run:
// go test -run XXX -bench PatientReport -benchtime 20x ./audit/
func BenchmarkPatientReport(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s, err := bolt.Open(filepath.Join(dir, "audit.db"), bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const total, mine = 20000, 50
	var batch []*audit.Event
	for i := 0; i < total; i++ {
		nhs := fmt.Sprintf("99900%05d", i%997)
		if i%(total/mine) == 0 {
			nhs = reportNHS
		}
		r := consent.Request{ID: fmt.Sprint("r", i), Time: t0.Add(time.Duration(i) * time.Minute), Principal: clinicianAt("RX999", "R8000", "u1"),
			Operation: consent.OpView, Type: "Patient", Query: "/fhir/Patient/x/$mig-view?view=summary", NHSNumber: nhs, Practice: reportPrac,
			ViewConsent: &consent.ViewConsent{Given: true}, Released: map[string]int{"Condition": 3}, Decision: consent.Decision{Verdict: consent.Authorized}}
		batch = append(batch, audit.Events(&r, time.Now)...)
		if len(batch) == 500 {
			if _, err := s.Append(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	seg := filepath.Join(dir, "segment.db")
	if err := s.Archive(ctx, total/2+1, seg); err != nil {
		b.Fatal(err)
	}
	a, err := bolt.Open(seg, bolt.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	q := audit.PatientReportQuery{NHSNumber: reportNHS, ShowTime: true}
	for _, tc := range []struct {
		name     string
		archives []audit.Scanner
	}{{"live-index-half", nil}, {"live-index-and-archive-scan", []audit.Scanner{a}}} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rep, err := audit.BuildPatientReport(ctx, s, tc.archives, q)
				if err != nil {
					b.Fatal(err)
				}
				if n := len(rep.Accesses); (tc.archives == nil && n != mine/2) || (tc.archives != nil && n != mine) {
					b.Fatalf("%d lines", n)
				}
			}
		})
	}
}
