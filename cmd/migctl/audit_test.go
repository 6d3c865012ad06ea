package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig/audit"
	auditbolt "mig/audit/bolt"
)

// day0 is the first event's time; event i is i hours later.
var day0 = time.Date(2026, 11, 1, 0, 30, 0, 0, time.UTC)

func testEvent(i int) *audit.Event {
	e := &audit.Event{Time: day0.Add(time.Duration(i) * time.Hour), Type: audit.TypeRest, Subtype: "read", Action: "R",
		Outcome: audit.OutcomeSuccess, UserID: []string{"u1", "u2", "u3"}[i%3], OrgODS: "RX999", RequestID: "r",
		NHSNumber: "9990001006", Practice: "A99901", Operation: "read", Resource: "Patient"}
	if i%5 == 4 {
		e.Outcome, e.OutcomeDesc = audit.OutcomeSeriousFail, "share-consent NO_PATIENT_CONSENT"
	}
	return e
}

// auditDir writes n events through audit/bolt into DIR/audit.db and closes it.
func auditDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := auditbolt.Open(filepath.Join(dir, "audit.db"), auditbolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := s.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// flipOnDisk flips one byte in the middle of record seq's stored body, in
// the closed store file itself: what a disk fault or a hand edit does. (The
// store's own tests in audit/bolt also delete and reorder records.)
func flipOnDisk(t *testing.T, path string, seq uint64) {
	t.Helper()
	s, err := auditbolt.Open(path, auditbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	err = s.Scan(context.Background(), seq-1, func(st *audit.Stored) error {
		if st.Seq == seq {
			body = bytes.Clone(st.Body)
		}
		return errStopScan
	})
	s.Close()
	if err != nil && err != errStopScan || body == nil {
		t.Fatalf("record %d not found: %v", seq, err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, body)
	if i < 0 || bytes.Index(raw[i+1:], body) >= 0 {
		t.Fatalf("record %d's body is not stored once, contiguously, in the file", seq)
	}
	raw[i+len(body)/2] ^= 0x01
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

var errStopScan = errors.New("stop")

func TestAuditVerify(t *testing.T) {
	tests := []struct {
		name string
		flip uint64 // record to corrupt on disk; 0: none
		code int
		out  []string
		err  string
	}{
		{"intact", 0, 0, []string{"records checked: 40 (seq 1 to 40, chain from seq 1)", "chain: intact"}, ""},
		{"flipped byte on disk", 20, 1, []string{"chain: BROKEN", "hash at seq 20"}, "audit chain broken: first problem at record seq 20 (hash"},
		{"flipped byte in the last record", 40, 1, []string{"chain: BROKEN"}, "first problem at record seq 40"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := auditDir(t, 40)
			if tc.flip != 0 {
				flipOnDisk(t, filepath.Join(dir, "audit.db"), tc.flip)
			}
			code, out, errs := runCLI(t, "audit", "verify", "-data", dir)
			if code != tc.code || !strings.Contains(errs, tc.err) {
				t.Fatalf("exit %d stderr %q, want %d %q", code, errs, tc.code, tc.err)
			}
			for _, w := range tc.out {
				if !strings.Contains(out, w) {
					t.Fatalf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestAuditArchiveThenVerify(t *testing.T) {
	dir := auditDir(t, 40)
	seg := filepath.Join(t.TempDir(), "seg1.db")
	code, out, errs := runCLI(t, "audit", "archive", "-data", dir, "-before", "21", "-o", seg)
	if code != 0 || !strings.Contains(out, "archived records below seq 21") {
		t.Fatalf("archive: %d %q %q", code, out, errs)
	}
	code, out, errs = runCLI(t, "audit", "verify", "-data", dir, "-archive", seg)
	if code != 0 || !strings.Contains(out, "records checked: 40 (seq 1 to 40, chain from seq 1)") || !strings.Contains(out, "files: 2") {
		t.Fatalf("verify: %d %q %q", code, out, errs)
	}
	// The live file alone starts at the archive's anchor.
	code, out, _ = runCLI(t, "audit", "verify", "-data", dir)
	if code != 0 || !strings.Contains(out, "records checked: 20 (seq 21 to 40, chain from an archive anchor)") {
		t.Fatalf("verify live only: %d %q", code, out)
	}
	// Segments are never overwritten.
	code, _, errs = runCLI(t, "audit", "archive", "-data", dir, "-before", "30", "-o", seg)
	if code != 1 || !strings.Contains(errs, "already exists") {
		t.Fatalf("archive over a segment: %d %q", code, errs)
	}
}

func TestAuditErrors(t *testing.T) {
	dir := auditDir(t, 3)
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no subcommand", []string{"audit"}, 2, "give a subcommand"},
		{"unknown subcommand", []string{"audit", "frob"}, 2, `unknown audit subcommand "frob"`},
		{"verify without -data", []string{"audit", "verify"}, 2, "-data DIR is required"},
		{"verify bad flag", []string{"audit", "verify", "-x"}, 2, "flag provided but not defined"},
		{"verify no store", []string{"audit", "verify", "-data", empty}, 1, "no audit.db in"},
		{"verify missing archive", []string{"audit", "verify", "-data", dir, "-archive", filepath.Join(empty, "seg.db")}, 1, "cannot open archive"},
		{"export no backend", []string{"audit", "export"}, 2, "give -data DIR"},
		{"export both", []string{"audit", "export", "-data", dir, "-server", "http://x"}, 2, "not both"},
		{"export bad since", []string{"audit", "export", "-data", dir, "-since", "last week"}, 2, "-since must be"},
		{"export bad after", []string{"audit", "export", "-data", dir, "-after", "-1"}, 2, "-after must be a sequence number or the id of an AuditEvent"},
		{"export unwritable", []string{"audit", "export", "-data", dir, "-o", filepath.Join(empty, "no", "x.ndjson")}, 1, "cannot create"},
		{"report bad range", []string{"audit", "report", "-data", dir, "-from", "2026-11-02", "-to", "2026-11-01"}, 2, "-to must be after -from"},
		{"report no store", []string{"audit", "report", "-data", empty}, 1, "no audit.db in"},
		{"archive missing flags", []string{"audit", "archive", "-data", dir}, 2, "archive needs"},
		{"archive nothing", []string{"audit", "archive", "-data", dir, "-before", "1", "-o", filepath.Join(empty, "s.db")}, 1, "nothing to archive below seq 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.err) {
				t.Fatalf("exit %d stderr %q, want %d %q", code, errs, tc.code, tc.err)
			}
			if out != "" {
				t.Fatalf("stdout on failure: %q", out)
			}
		})
	}
}

// TestAuditLocked: every -data subcommand fails fast, in one line, while
// a gateway holds the store.
func TestAuditLocked(t *testing.T) {
	dir := auditDir(t, 3)
	s, err := auditbolt.Open(filepath.Join(dir, "audit.db"), auditbolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, args := range [][]string{
		{"audit", "verify", "-data", dir},
		{"audit", "export", "-data", dir},
		{"audit", "report", "-data", dir},
		{"audit", "archive", "-data", dir, "-before", "2", "-o", filepath.Join(t.TempDir(), "s.db")},
	} {
		code, out, errs := runCLI(t, args...)
		if code != 1 || !strings.Contains(errs, "is locked by another process") || strings.Count(errs, "\n") != 1 || out != "" {
			t.Fatalf("%v: exit %d stdout %q stderr %q", args[1], code, out, errs)
		}
	}
}

// ndjsonLines checks every line is an AuditEvent and returns their ids.
func ndjsonLines(t *testing.T, b []byte) []string {
	t.Helper()
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ae struct{ ResourceType, ID string }
		if err := json.Unmarshal(sc.Bytes(), &ae); err != nil || ae.ResourceType != "AuditEvent" {
			t.Fatalf("line %d is not an AuditEvent: %v", len(ids)+1, err)
		}
		ids = append(ids, ae.ID)
	}
	return ids
}

func TestAuditExportLocal(t *testing.T) {
	dir := auditDir(t, 2500)
	tests := []struct {
		name  string
		args  []string
		lines int
		last  string
	}{
		{"all to file with progress", []string{"-progress"}, 2500, "last seq 2500"},
		{"after", []string{"-after", "2400"}, 100, "last seq 2500"},
		// Event i is at day0 + i hours: 2026-11-02T00:30 is event 24.
		{"since", []string{"-since", "2026-11-02T00:30:00Z"}, 2500 - 24, "last seq 2500"},
		{"since a date", []string{"-since", "2027-01-01", "-after", "10"}, 2500 - 24*61, "last seq 2500"},
		{"nothing after", []string{"-after", "2500"}, 0, "exported 0 events; last seq 2500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "audit.ndjson")
			code, stdout, errs := runCLI(t, append([]string{"audit", "export", "-data", dir, "-o", out}, tc.args...)...)
			if code != 0 || stdout != "" || !strings.Contains(errs, tc.last) {
				t.Fatalf("exit %d stdout %q stderr %q", code, stdout, errs)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(ndjsonLines(t, b)); n != tc.lines {
				t.Fatalf("%d lines, want %d", n, tc.lines)
			}
			if tc.args[0] == "-progress" && (!strings.Contains(errs, "\r[") || !strings.Contains(errs, "100% 2500 events")) {
				t.Fatalf("no progress bar: %q", errs)
			}
		})
	}
	// Standard output, and the split export joins up to the whole one.
	_, whole, _ := runCLI(t, "audit", "export", "-data", dir)
	_, first, _ := runCLI(t, "audit", "export", "-data", dir, "-since", "2026-11-01")
	if whole != first || len(ndjsonLines(t, []byte(whole))) != 2500 {
		t.Fatal("export to standard output differs")
	}
	_, a, _ := runCLI(t, "audit", "export", "-data", dir, "-after", "0")
	_, b1, _ := runCLI(t, "audit", "export", "-data", dir, "-after", "1234")
	if !strings.HasSuffix(a, b1) || len(b1) == 0 {
		t.Fatal("resumed export is not the tail of the whole")
	}
	// Resuming by the id of the last event written (all a remote export
	// can report) gives the same tail as resuming by its sequence number.
	lines := strings.SplitAfter(a, "\n")
	var ev struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(lines[1233]), &ev); err != nil || ev.ID == "" {
		t.Fatalf("event 1234: %v", err)
	}
	_, b2, _ := runCLI(t, "audit", "export", "-data", dir, "-after", ev.ID)
	if b2 != b1 {
		t.Fatal("resuming by AuditEvent id differs from resuming by sequence number")
	}
}

func TestAuditExportInterrupted(t *testing.T) {
	dir := auditDir(t, 10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	old := diag
	diag = &errb
	defer func() { diag = old }()
	code := run(ctx, []string{"audit", "export", "-data", dir, "-after", "4"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "export interrupted after seq 4: resume with -after 4") || out.Len() != 0 {
		t.Fatalf("exit %d stdout %q stderr %q", code, out.String(), errb.String())
	}
}

func TestAuditExportRemote(t *testing.T) {
	g := newGateway(t)
	for i := 0; i < 30; i++ {
		if _, err := g.audit.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "remote.ndjson")
	code, _, errs := runCLI(t, "audit", "export", "-server", g.URL, "-token", auditorToken, "-o", out, "-after", "10")
	if code != 0 || !strings.Contains(errs, "exported 21 events") {
		t.Fatalf("exit %d stderr %q", code, errs)
	}
	b, _ := os.ReadFile(out)
	// Seqs 11..30, then the export's own AuditEvent (stored before streaming).
	if ids := ndjsonLines(t, b); len(ids) != 21 || !strings.Contains(errs, "last AuditEvent "+ids[20]) {
		t.Fatalf("%d lines; stderr %q", len(ids), errs)
	}
	t.Setenv("MIG_TOKEN", clinToken)
	code, _, errs = runCLI(t, "audit", "export", "-server", g.URL, "-o", out)
	if code != 1 || !strings.Contains(errs, "gateway refused (HTTP 403)") {
		t.Fatalf("clinician export: %d %q", code, errs)
	}
}

func TestAuditReport(t *testing.T) {
	dir := auditDir(t, 72) // three days, 24 events each
	tests := []struct {
		args []string
		want []string
	}{
		{nil, []string{"72 events (seq 1-72)"}},
		{[]string{"-from", "2026-11-02", "-to", "2026-11-02"}, []string{"Audit report 2026-11-02T00:00:00Z to 2026-11-03T00:00:00Z: 24 events (seq 25-48)"}},
		{[]string{"-from", "2026-11-03T00:00:00Z"}, []string{"24 events (seq 49-72)"}},
		{[]string{"-csv"}, []string{"section,key,total,failed", "RX999,72,14"}},
	}
	for _, tc := range tests {
		code, out, errs := runCLI(t, append([]string{"audit", "report", "-data", dir}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d %q", tc.args, code, errs)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Fatalf("%v: report lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
}

// checkpointed writes n events, signs the head into a checkpoint log kept
// outside the data directory, records the log's place in the store (as
// migd does) and returns the data directory, the log and a copy of the
// store taken after its first `older` events.
func checkpointed(t *testing.T, n, older int) (dir, log, olderCopy string) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	witness := t.TempDir()
	keyPath := filepath.Join(witness, "checkpoint.key")
	if err := audit.CreateCheckpointKey(keyPath); err != nil {
		t.Fatal(err)
	}
	key, err := audit.LoadCheckpointKey(keyPath, audit.KeyRules{NotUnder: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	log = filepath.Join(witness, "checkpoints.log")
	if err := audit.WritePublicKey(audit.PublicKeyPath(log), key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit.db")
	olderCopy = filepath.Join(t.TempDir(), "older.db")
	s, err := auditbolt.Open(path, auditbolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCheckpointPlace(ctx, auditbolt.CheckpointPlace{Log: log, PublicKey: audit.PublicKeyPath(log)}); err != nil {
		t.Fatal(err)
	}
	cps := audit.NewCheckpointer(s, key, log, nil, audit.CheckpointerOptions{Scan: s.Scan})
	for i := 0; i < n; i++ {
		if i == older {
			s.Close()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(olderCopy, b, 0o600)
			if s, err = auditbolt.Open(path, auditbolt.Options{}); err != nil {
				t.Fatal(err)
			}
			cps = audit.NewCheckpointer(s, key, log, cps.Last(), audit.CheckpointerOptions{Scan: s.Scan})
		}
		if _, err := s.Append(ctx, testEvent(i)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			if _, err := cps.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := cps.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, log, olderCopy
}

// replaceAll replaces every occurrence of old by new (same length) in the
// closed store file.
func replaceAll(t *testing.T, path string, old, new []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, old) {
		t.Fatalf("%q not in the file", old)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(raw, old, new), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAuditVerifyCheckpointsAndIndexes: verify finds the checkpoint log and
// key where the store says, checks the chain against the latest signed
// checkpoint and rebuilds the indexes from the records, naming what
// differs without printing an NHS number.
func TestAuditVerifyCheckpointsAndIndexes(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir, log, older string)
		args   func(dir, log string) []string
		code   int
		out    []string
	}{
		{"intact", nil, nil, 0, []string{"latest checkpoint: seq 40", "checkpoint: the chain holds the signed hash at seq 40", "chain: intact; attributes and indexes match"}},
		{"rollback to an older copy", func(t *testing.T, dir, _, older string) {
			b, _ := os.ReadFile(older)
			os.WriteFile(filepath.Join(dir, "audit.db"), b, 0o600)
		}, nil, 1, []string{"checkpoint at seq 25", "chain ends at seq 25 but the latest signed checkpoint", "is at seq 40"}},
		{"patient moved out of the patient index (bytes on disk)", func(t *testing.T, dir, _, _ string) {
			replaceAll(t, filepath.Join(dir, "audit.db"), []byte("9990001006\x00"), []byte("9990001014\x00"))
		}, nil, 1, []string{"ix_patient: entry for seq 1 (patient not shown) missing", "ix_patient: extra entry"}},
		{"user index entries moved to another user", func(t *testing.T, dir, _, _ string) {
			replaceAll(t, filepath.Join(dir, "audit.db"), []byte("u2\x00\x00"), []byte("u9\x00\x00"))
		}, nil, 1, []string{`ix_user: entry "u2" for seq 2 missing`, `ix_user: extra entry "u9" for seq 2`}},
		{"forged line in the checkpoint log", func(t *testing.T, _, log, _ string) {
			f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(`{"seq":41,"head":"` + strings.Repeat("00", 32) + `","time":"2026-11-03T00:00:00Z","key":"x","sig":"` + strings.Repeat("A", 86) + `=="}` + "\n")
			f.Close()
		}, nil, 1, []string{"checkpoint log: line", "signature does not verify"}},
		{"-checkpoints overrides the recorded place", func(t *testing.T, dir, log, _ string) {
			os.Rename(log, log+".moved")
			os.Rename(audit.PublicKeyPath(log), audit.PublicKeyPath(log+".moved"))
		}, func(dir, log string) []string {
			return []string{"audit", "verify", "-data", dir, "-checkpoints", log + ".moved"}
		}, 0, []string{"checkpoints.log.moved", "checkpoint: the chain holds the signed hash at seq 40"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, log, older := checkpointed(t, 40, 25)
			if tc.tamper != nil {
				tc.tamper(t, dir, log, older)
			}
			args := []string{"audit", "verify", "-data", dir}
			if tc.args != nil {
				args = tc.args(dir, log)
			}
			code, out, errs := runCLI(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr: %s", code, tc.code, out, errs)
			}
			for _, w := range tc.out {
				if !strings.Contains(out, w) {
					t.Fatalf("stdout lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out+errs, "9990001006") || strings.Contains(out+errs, "9990001014") {
				t.Fatalf("verify printed an NHS number:\n%s%s", out, errs)
			}
		})
	}
}

// TestAuditProveAndCheckProof: prove gives an auditor one event's Merkle
// inclusion proof under the latest signed checkpoint; check-proof accepts
// it with the event as exported and the public key, and refuses another
// event's bytes or another key.
func TestAuditProveAndCheckProof(t *testing.T) {
	dir, log, _ := checkpointed(t, 40, 25)
	s, err := auditbolt.Open(filepath.Join(dir, "audit.db"), auditbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var bodies [][]byte
	s.Scan(context.Background(), 0, func(st *audit.Stored) error {
		ids, bodies = append(ids, st.ID), append(bodies, bytes.Clone(st.Body))
		return nil
	})
	s.Close()
	work := t.TempDir()
	proof := filepath.Join(work, "proof.json")
	event := filepath.Join(work, "event.json")
	os.WriteFile(event, append(bodies[16], '\n'), 0o600) // record 17, as an NDJSON export line
	code, out, errs := runCLI(t, "audit", "prove", "-data", dir, "-id", ids[16], "-o", proof)
	if code != 0 || !strings.Contains(out, "proof of record 17 in the log of 40 records") {
		t.Fatalf("prove: %d %q %q", code, out, errs)
	}
	pub := audit.PublicKeyPath(log)
	code, out, errs = runCLI(t, "audit", "check-proof", "-proof", proof, "-event", event, "-pubkey", pub)
	if code != 0 || !strings.Contains(out, "proof holds: AuditEvent "+ids[16]+" is record 17 of the 40 records") {
		t.Fatalf("check-proof: %d %q %q", code, out, errs)
	}
	other := filepath.Join(work, "other.json")
	os.WriteFile(other, bodies[17], 0o600)
	if code, _, errs = runCLI(t, "audit", "check-proof", "-proof", proof, "-event", other, "-pubkey", pub); code != 1 || !strings.Contains(errs, "not the one the proof is for") {
		t.Fatalf("another event: %d %q", code, errs)
	}
	otherKey := filepath.Join(work, "other.key")
	audit.CreateCheckpointKey(otherKey)
	k, _ := audit.LoadCheckpointKey(otherKey, audit.KeyRules{})
	audit.WritePublicKey(otherKey+".pub", k.Public().(ed25519.PublicKey))
	if code, _, errs = runCLI(t, "audit", "check-proof", "-proof", proof, "-event", event, "-pubkey", otherKey+".pub"); code != 1 || !strings.Contains(errs, "signature does not verify") {
		t.Fatalf("another key: %d %q", code, errs)
	}
	if code, _, errs = runCLI(t, "audit", "prove", "-data", dir, "-id", "no-such-id"); code != 1 || !strings.Contains(errs, "no AuditEvent with that id") {
		t.Fatalf("unknown id: %d %q", code, errs)
	}
}
