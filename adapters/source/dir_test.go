package source_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"mig"
	"mig/adapters/record"
	"mig/adapters/source"
)

func newDir(t *testing.T) (*source.Dir, string, string) {
	t.Helper()
	dir := practiceDir(t)
	log := filepath.Join(t.TempDir(), "access.jsonl")
	d, err := source.NewDir(source.DirOptions{ODS: "A99901", Path: dir, AccessLog: log})
	if err != nil {
		t.Fatal(err)
	}
	return d, dir, log
}

func readAll(t *testing.T, rc io.ReadCloser) string {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDirFetchSeesEdits(t *testing.T) {
	d, dir, _ := newDir(t)
	ctx := context.Background()
	rc, err := d.Fetch(ctx, nhsA)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, rc); got != "<extract>A FREETEXT-a</extract>" {
		t.Fatalf("got %q", got)
	}
	write(t, filepath.Join(dir, nhsA+".xml"), "<extract>edited</extract>")
	rc, err = d.Fetch(ctx, nhsA)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, rc); got != "<extract>edited</extract>" {
		t.Fatalf("edit not seen: %q", got)
	}
	os.Remove(filepath.Join(dir, nhsA+".xml"))
	_, err = d.Fetch(ctx, nhsA)
	wantErr(t, err, mig.ENOTFOUND, mig.IssuePatientNotFound, "A99901", nhsA)
}

func TestDirFetchRefusesBadNumbers(t *testing.T) {
	d, dir, _ := newDir(t)
	// A file outside the directory that traversal would reach.
	write(t, filepath.Join(filepath.Dir(dir), "secret.xml"), "secret")
	for _, nhs := range []string{"../secret", "..%2Fsecret", "/etc/passwd", "9990001000", "999000100", "99900010066", "9990001006/../9990001014", ""} {
		_, err := d.Fetch(context.Background(), nhs)
		wantErr(t, err, mig.EINVALID, mig.IssueInvalidNHSNumber, "", nhs)
		_, err = d.Demographics(context.Background(), nhs)
		wantErr(t, err, mig.EINVALID, mig.IssueInvalidNHSNumber, "")
	}
	_, err := d.Fetch(context.Background(), nhsC)
	wantErr(t, err, mig.ENOTFOUND, "", "A99901", nhsC)
}

func TestDirPatients(t *testing.T) {
	d, _, _ := newDir(t)
	var got []string
	if err := d.Patients(context.Background(), func(nhs string) error { got = append(got, nhs); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{nhsA, nhsB}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestDirDemographics(t *testing.T) {
	d, dir, _ := newDir(t)
	ctx := context.Background()
	p, err := d.Demographics(ctx, nhsA)
	if err != nil {
		t.Fatal(err)
	}
	checkAnn(t, p, "A99901")
	if p.Address.City() != "Leeds" || p.Address.District() != "West Yorkshire" || !slices.Equal(p.Address.Lines(), []string{"1 Test Street"}) {
		t.Errorf("address %+v", p.Address)
	}
	if p.Deceased || p.Deducted || p.Sensitive {
		t.Errorf("flags %+v", p)
	}
	q, err := d.Demographics(ctx, nhsB)
	if err != nil {
		t.Fatal(err)
	}
	if q.Sex != record.SexMale || q.BirthDate.P != record.PrecisionMonth || !q.Deceased || !q.Deducted || !q.Sensitive ||
		q.DeceasedDate.P != record.PrecisionDay || !q.DeceasedDate.T.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("second patient %+v", q)
	}
	_, err = d.Demographics(ctx, nhsC)
	wantErr(t, err, mig.ENOTFOUND, "", "A99901", nhsC)

	// Re-read when the file changes (size differs, so mtime granularity is moot).
	write(t, filepath.Join(dir, "patients.json"), `[{"nhsNumber":"9990001022","name":{"family":"New"},"sex":"other","birthDate":"2001"}]`)
	if p, err := d.Demographics(ctx, nhsC); err != nil || p.Name.Family() != "New" || p.Sex != record.SexOther || p.BirthDate.P != record.PrecisionYear {
		t.Fatalf("change not seen: %+v %v", p, err)
	}
	_, err = d.Demographics(ctx, nhsA)
	wantErr(t, err, mig.ENOTFOUND, "", "", nhsA)

	write(t, filepath.Join(dir, "patients.json"), `[{"nhsNumber":"9990001022","sex":"robot"}]`)
	_, err = d.Demographics(ctx, nhsC)
	wantErr(t, err, mig.EUNAVAILABLE, mig.IssueGPSystemUnavailable, "A99901", "robot", nhsC)
	write(t, filepath.Join(dir, "patients.json"), `{not json`)
	_, err = d.Demographics(ctx, nhsC)
	wantErr(t, err, mig.EUNAVAILABLE, mig.IssueGPSystemUnavailable, "A99901", nhsC)
}

func checkAnn(t *testing.T, p *record.Patient, practice string) {
	t.Helper()
	if p.NHSNumber != nhsA || p.Name.Family() != "Example" || p.Name.Prefix() != "Mrs" || !slices.Equal(p.Name.Given(), []string{"Ann"}) ||
		p.Sex != record.SexFemale || p.PracticeODS != practice ||
		p.BirthDate.P != record.PrecisionDay || !p.BirthDate.T.Equal(time.Date(1950, 3, 14, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("patient %+v", p)
	}
}

func TestDirAccessLogPlacement(t *testing.T) {
	dir := practiceDir(t)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	for name, log := range map[string]string{
		"inside":          filepath.Join(dir, "access.jsonl"),
		"nested":          filepath.Join(dir, "sub", "access.jsonl"),
		"relative parent": filepath.Join(dir, "sub", "..", "access.jsonl"),
		"via symlink":     filepath.Join(link, "access.jsonl"),
		"empty":           "",
	} {
		if _, err := source.NewDir(source.DirOptions{ODS: "A99901", Path: dir, AccessLog: log}); mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("%s: err %v, want EINVALID", name, err)
		}
	}
	// A sibling whose name merely starts with the directory's is outside.
	if _, err := source.NewDir(source.DirOptions{ODS: "A99901", Path: dir, AccessLog: dir + "-access.jsonl"}); err != nil {
		t.Errorf("sibling refused: %v", err)
	}
	if _, err := source.NewDir(source.DirOptions{ODS: "A99901", Path: filepath.Join(dir, "nope"), AccessLog: filepath.Join(t.TempDir(), "l")}); err == nil {
		t.Error("missing directory accepted")
	}
}

func countLines(t *testing.T, name string) map[string]int {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			ID    string         `json:"id"`
			Event map[string]any `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		if l.Event["resourceType"] != "AuditEvent" {
			t.Fatalf("line %q lost the event", sc.Text())
		}
		ids[l.ID]++
	}
	return ids
}

func TestDirNotifyIdempotent(t *testing.T) {
	d, dir, log := newDir(t)
	ctx := context.Background()
	ev := func(id string) source.Notification {
		return source.Notification{ID: id, Body: []byte(`{"resourceType":"AuditEvent","id":"` + id + `"}`)}
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := d.Notify(ctx, ev(fmt.Sprintf("ev-%d", i%5))); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	ids := countLines(t, log)
	if len(ids) != 5 {
		t.Fatalf("ids %v", ids)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("%s written %d times", id, n)
		}
	}
	// A new source over the same log (a restart) still knows the ids, and
	// a torn last line does not swallow the next notification.
	f, _ := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"id":"torn","ev`)
	f.Close()
	d2, err := source.NewDir(source.DirOptions{ODS: "A99901", Path: dir, AccessLog: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Notify(ctx, ev("ev-1")); err != nil {
		t.Fatal(err)
	}
	if err := d2.Notify(ctx, ev("ev-new")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(log)
	lines := 0
	for _, c := range b {
		if c == '\n' {
			lines++
		}
	}
	if lines != 7 { // 5 + the closed torn line + ev-new
		t.Fatalf("%d lines:\n%s", lines, b)
	}
	if err := d2.Notify(ctx, source.Notification{ID: "x", Body: []byte("not json")}); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("bad body: %v", err)
	}
	if err := d2.Notify(ctx, source.Notification{Body: []byte("{}")}); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("no id: %v", err)
	}
}

// TestDirNotifyTwoNodes: two gateway nodes (two sources, each with its own
// memory and its own open file, as two processes have) deliver the same
// notifications to one shared access log, at once and one after another:
// each id is in the log once.
func TestDirNotifyTwoNodes(t *testing.T) {
	dir := practiceDir(t)
	log := filepath.Join(t.TempDir(), "access.jsonl")
	var nodes [2]*source.Dir
	for i := range nodes {
		d, err := source.NewDir(source.DirOptions{ODS: "A99901", Path: dir, AccessLog: log})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = d
	}
	ctx := context.Background()
	ev := func(id string) source.Notification {
		return source.Notification{ID: id, Body: []byte(`{"resourceType":"AuditEvent","id":"` + id + `"}`)}
	}
	// One after another: each node has already read the log when the other
	// appends, so only reading the file again finds the other's lines.
	for i, id := range []string{"seq-1", "seq-1", "seq-2", "seq-2", "seq-1"} {
		if err := nodes[i%2].Notify(ctx, ev(id)); err != nil {
			t.Fatal(err)
		}
	}
	// At once: both nodes deliver every id, several times over.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				if err := nodes[g%2].Notify(ctx, ev(fmt.Sprintf("ev-%d", (i+g)%15))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	ids := countLines(t, log)
	if len(ids) != 17 {
		t.Fatalf("%d ids in the log, want 17: %v", len(ids), ids)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("%s written %d times", id, n)
		}
	}
	// The log replaced under the nodes (rotated away): it is read afresh.
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	for _, d := range nodes {
		if err := d.Notify(ctx, ev("after-rotation")); err != nil {
			t.Fatal(err)
		}
	}
	if ids := countLines(t, log); len(ids) != 1 || ids["after-rotation"] != 1 {
		t.Fatalf("rotated log: %v", ids)
	}
}
