package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"mig/audit"
	auditbolt "mig/audit/bolt"
)

const auditUsage = `usage:
  migctl audit verify  -store postgres://... [-store-ca FILE] [-store-cert FILE -store-key FILE] [-checkpoints LOG] [-pubkey KEY.pub]
  migctl audit verify  -data DIR [-archive SEGMENT.db ...] [-checkpoints LOG] [-pubkey KEY.pub]
  migctl audit export  -data DIR [-since INSTANT] [-after SEQ] [-o FILE] [-progress]
  migctl audit export  -server URL [-token TOKEN] [-since INSTANT] [-after SEQ] [-o FILE] [-progress]
  migctl audit report  -data DIR [-from DATE] [-to DATE] [-csv]
  migctl audit patient-report -data DIR [-archive SEGMENT.db ...] [-config FILE] -nhs N [-from DAY] [-to DAY] [-format text|csv|html] [-time] [-names] [-o FILE]
  migctl audit patient-report -server URL [-token TOKEN] -nhs N [-from DAY] [-to DAY] [-format text|csv|html] [-time] [-names] [-o FILE]
  migctl audit archive -data DIR -before SEQ -o SEGMENT.db
  migctl audit prove   -data DIR -id EVENT-ID [-archive SEGMENT.db ...] [-checkpoints LOG] [-pubkey KEY.pub] [-o PROOF.json]
  migctl audit check-proof -proof PROOF.json -event EVENT.json -pubkey KEY.pub

-data reads DIR/audit.db directly and needs the gateway stopped (a running migd
locks the file); export -server streams from a running gateway with an
auditor's token (-token or MIG_TOKEN). patient-report lists who has looked at
one patient's record (by default the day, not the time, and no names);
-server reads it from the gateway with a token of the patient's practice.
`

// cmdAudit verifies, exports, summarises and archives the audit trail.
func cmdAudit(ctx context.Context, args []string, stdout, _ io.Writer) error {
	return dispatch(ctx, "audit", auditUsage, args, stdout, []subcommand{
		{"verify", auditVerify},
		{"export", auditExport},
		{"report", auditReport},
		{"patient-report", auditPatientReport},
		{"archive", auditArchive},
		{"prove", auditProve},
		{"check-proof", auditCheckProof},
	})
}

func auditFlags(sub string) *flag.FlagSet {
	fs := newFlags("audit " + sub)
	fs.SetOutput(diag)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), auditUsage+"\nflags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// listFlag collects a repeated flag's values in order.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// openAudit opens DIR/audit.db, which must exist.
func openAudit(dir string, readOnly bool) (*auditbolt.Store, error) {
	path, err := storeFile(dir, "audit.db", true)
	if err != nil {
		return nil, err
	}
	s, err := auditbolt.Open(path, auditbolt.Options{ReadOnly: readOnly, Timeout: lockTimeout})
	if err != nil {
		return nil, openError(path, err)
	}
	return s, nil
}

func auditVerify(ctx context.Context, args []string, stdout io.Writer) error {
	fs := auditFlags("verify")
	data := fs.String("data", "", "the gateway's data directory (DIR/audit.db; the gateway must be stopped)")
	pg := addStoreFlags(fs, "store", "a PostgreSQL audit store (postgres://...; the gateways may keep running) instead of -data")
	var archives listFlag
	fs.Var(&archives, "archive", "an archive segment written by audit archive; repeat, oldest first")
	logFlag := fs.String("checkpoints", "", "the gateway's signed checkpoint log (default: where the data directory says the gateway wrote it)")
	pubFlag := fs.String("pubkey", "", "the checkpoint public key, PEM (default: where the data directory says; pass a trusted copy to rule out a swapped one)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("verify takes flags only")
	}
	if pg.url() != "" {
		if *data != "" || len(archives) > 0 {
			return usagef("-store and -data (or -archive) are exclusive: a PostgreSQL store is never archived")
		}
		return auditVerifyPostgres(ctx, pg, *logFlag, *pubFlag, stdout)
	}
	live, err := storeFile(*data, "audit.db", true)
	if err != nil {
		return err
	}
	paths := append([]string{}, archives...)
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("cannot open archive %s: %v", p, errors.Unwrap(err))
		}
	}
	paths = append(paths, live)

	// The latest signed checkpoint: the log and key the gateway recorded in
	// the store, unless flags name others.
	place, err := auditbolt.ReadCheckpointPlace(live)
	if err != nil {
		return openError(live, err)
	}
	cp, cpProblems, err := verifyCheckpoint(place, *logFlag, *pubFlag, stdout)
	if err != nil {
		return err
	}
	rep, err := auditbolt.VerifyFilesWith(ctx, auditbolt.VerifyOptions{Checkpoint: cp}, paths...)
	if err != nil {
		return openError(strings.Join(paths, ", "), err)
	}
	return printVerify(stdout, rep, cp, place.Log, cpProblems)
}

// verifyCheckpoint reads the latest signed checkpoint from the log and key
// the store recorded (place), unless flags name others, printing what it
// used. A store that recorded none is checked against itself only.
func verifyCheckpoint(place audit.CheckpointPlace, logFlag, pubFlag string, stdout io.Writer) (*audit.Checkpoint, []string, error) {
	if logFlag != "" {
		place.Log = logFlag
	}
	if pubFlag != "" {
		place.PublicKey = pubFlag
	} else if logFlag != "" {
		place.PublicKey = audit.PublicKeyPath(logFlag)
	}
	if place.Log == "" {
		fmt.Fprintln(stdout, "checkpoint: none recorded for this store (the chain is checked only against itself; give -checkpoints)")
		return nil, nil, nil
	}
	pub, err := audit.ReadPublicKey(place.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint public key %s: %s", place.PublicKey, oneLine(err))
	}
	lr, err := audit.ReadCheckpoints(place.Log, pub)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint log %s cannot be read: %s", place.Log, oneLine(err))
	}
	fmt.Fprintf(stdout, "checkpoint log: %s (%d signed checkpoints, key %s from %s)\n", place.Log, lr.Lines, audit.KeyID(pub), place.PublicKey)
	if lr.Latest != nil {
		fmt.Fprintf(stdout, "latest checkpoint: seq %d at %s\n", lr.Latest.Seq, lr.Latest.Time.UTC().Format(time.RFC3339))
	}
	return lr.Latest, lr.Problems, nil
}

// printVerify prints a verification report and fails when it found a
// problem (in the chain, or in the checkpoint log at logPath).
func printVerify(stdout io.Writer, rep *audit.VerifyReport, cp *audit.Checkpoint, logPath string, cpProblems []string) error {
	start := "seq 1"
	if !rep.Anchored {
		start = "an archive anchor"
	}
	fmt.Fprintf(stdout, "files: %d\nrecords checked: %d (seq %d to %d, chain from %s)\nindex entries checked: %d\n",
		len(rep.Files), rep.Records, rep.FirstSeq, rep.LastSeq, start, rep.IndexEntries)
	for _, p := range cpProblems {
		fmt.Fprintf(stdout, "  %s: checkpoint log: %s\n", logPath, p)
	}
	if rep.OK() && len(cpProblems) == 0 {
		if cp != nil {
			fmt.Fprintf(stdout, "checkpoint: the chain holds the signed hash at seq %d\n", cp.Seq)
		}
		_, err := fmt.Fprintln(stdout, "chain: intact; attributes and indexes match the records")
		return err
	}
	if rep.OK() {
		return fmt.Errorf("checkpoint log %s: %d lines do not verify (first: %s)", logPath, len(cpProblems), cpProblems[0])
	}
	p, _ := rep.First()
	fmt.Fprintf(stdout, "chain: BROKEN, %d problems\n", rep.ProblemsTotal)
	for _, q := range rep.Problems {
		fmt.Fprintf(stdout, "  %s\n", q)
	}
	return fmt.Errorf("audit chain broken: first problem at record seq %d (%s: %s) in %s; %d problems", p.Seq, p.Kind, p.Detail, p.File, rep.ProblemsTotal)
}

// progressBar draws "[#####-----] 50% 12000 events 3400/s seq 12000" on one
// terminal line. total 0 draws no bar.
type progressBar struct {
	w     io.Writer
	start time.Time
	base  uint64 // the seq the export starts after
	total uint64 // seqs to cover after base; 0: unknown
	drawn bool
}

func (p *progressBar) update(seq, n uint64) {
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(n) / el
	}
	bar := ""
	if p.total > 0 {
		done := min(seq-min(seq, p.base), p.total)
		const width = 30
		k := int(done * width / p.total)
		bar = fmt.Sprintf("[%s%s] %3d%% ", strings.Repeat("#", k), strings.Repeat("-", width-k), done*100/p.total)
	}
	at := ""
	if seq > 0 {
		at = fmt.Sprintf("  seq %d", seq)
	}
	fmt.Fprintf(p.w, "\r%s%d events  %.0f/s%s ", bar, n, rate, at)
	p.drawn = true
}

func (p *progressBar) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

func auditExport(ctx context.Context, args []string, stdout io.Writer) error {
	fs := auditFlags("export")
	data := fs.String("data", "", "the gateway's data directory (DIR/audit.db; the gateway must be stopped)")
	server := fs.String("server", "", "a running gateway's base URL: stream GET /fhir/AuditEvent/$export")
	token := fs.String("token", "", "an auditor's bearer token for -server (default: $MIG_TOKEN)")
	since := fs.String("since", "", "only events recorded at or after this instant (RFC 3339, or a date)")
	afterArg := fs.String("after", "", "only events after this sequence number or AuditEvent id (resume an interrupted export)")
	out := fs.String("o", "", "write NDJSON to this file (default: standard output)")
	progress := fs.Bool("progress", false, "show progress on standard error (default: when it is a terminal)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("export takes flags only")
	}
	var sinceT time.Time
	if *since != "" {
		if sinceT, _, err = parseDay("since", *since); err != nil {
			return err
		}
	}
	showProgress := *progress || stderrIsTerminal()
	switch {
	case *data != "" && *server != "":
		return usagef("give -data or -server, not both")
	case *server != "":
		c, err := newRemote(*server, *token)
		if err != nil {
			return err
		}
		return remoteExport(ctx, c, sinceT, *afterArg, *out, showProgress, stdout)
	case *data == "":
		return usagef("give -data DIR (gateway stopped) or -server URL")
	}
	store, err := openAudit(*data, true)
	if err != nil {
		return err
	}
	defer store.Close()
	after, err := resolveAfter(ctx, store, *afterArg)
	if err != nil {
		return err
	}
	w, closeOut, err := output(*out, stdout)
	if err != nil {
		return err
	}
	// Ctrl-C stops the export cleanly at a record boundary.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	var bar *progressBar
	var fn func(seq, n uint64)
	if showProgress {
		bar = &progressBar{w: diag, start: time.Now(), base: after}
		if last, _, err := store.Last(ctx); err == nil && last > after {
			bar.total = last - after
		}
		fn = bar.update
	}
	// WriteNDJSON writes into this buffer directly (bufio returns a Writer
	// of enough size as is), so after an interruption, which comes between
	// records, flushing it leaves exactly the records up to last in the
	// output.
	bw := bufio.NewWriterSize(w, 64<<10)
	var n uint64
	count := func(seq, k uint64) {
		n = k
		if fn != nil {
			fn(seq, k)
		}
	}
	last, err := audit.WriteNDJSON(ctx, store, bw, sinceT, after, count)
	ferr := bw.Flush()
	cerr := closeOut()
	if bar != nil {
		bar.finish()
	}
	if err == nil {
		err = ferr
	}
	if err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil && ferr == nil && cerr == nil {
			fmt.Fprintf(diag, "export interrupted: %d events written, last seq %d\n", n, last)
			return fmt.Errorf("export interrupted after seq %d: resume with -after %d", last, last)
		}
		return fmt.Errorf("export failed after %d events (output incomplete): %s", n, oneLine(err))
	}
	fmt.Fprintf(diag, "exported %d events; last seq %d (continue later with -after %d)\n", n, last, last)
	return nil
}

// output opens -o FILE (0600) or returns stdout; closeOut syncs and closes.
func output(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "" {
		return stdout, func() error { return nil }, nil
	}
	f, err := createFile(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() error {
		err := f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("cannot write %s", path)
		}
		return nil
	}, nil
}

// resolveAfter reads -after: a sequence number, or the id of the last
// AuditEvent an interrupted export wrote (what a remote export can report,
// since its lines carry no sequence numbers).
func resolveAfter(ctx context.Context, store audit.Store, v string) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return n, nil
	}
	st, err := store.Get(ctx, v)
	if err != nil || st == nil {
		return 0, usagef("-after must be a sequence number or the id of an AuditEvent in the store")
	}
	return st.Seq, nil
}

// remoteExport streams the gateway's NDJSON export to the output.
func remoteExport(ctx context.Context, c *remote, since time.Time, after string, out string, showProgress bool, stdout io.Writer) error {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("_since", since.UTC().Format(time.RFC3339))
	}
	if after != "" {
		q.Set("_after", after)
	}
	path := "/fhir/AuditEvent/$export"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	resp, err := c.do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+ndjson") && !strings.HasPrefix(ct, "application/x-ndjson") {
		return fmt.Errorf("the gateway did not answer with NDJSON")
	}
	w, closeOut, err := output(out, stdout)
	if err != nil {
		return err
	}
	var bar *progressBar
	if showProgress {
		bar = &progressBar{w: diag, start: time.Now()}
	}
	// Copy whole lines only, so an interrupted stream leaves complete events.
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	var n uint64
	var lastID string
	var rerr error
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long event: gather it.
			full := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if err != nil {
			if err != io.EOF {
				rerr = err
			} else if len(line) > 0 {
				rerr = io.ErrUnexpectedEOF // a partial last line: dropped
			}
			break
		}
		if _, werr := bw.Write(line); werr != nil {
			rerr = werr
			break
		}
		n++
		lastID = eventID(line)
		if bar != nil && n%1000 == 0 {
			bar.update(0, n)
		}
	}
	ferr := bw.Flush()
	cerr := closeOut()
	if bar != nil {
		bar.update(0, n)
		bar.finish()
	}
	if ferr != nil || cerr != nil {
		return fmt.Errorf("export failed after %d events: output could not be written", n)
	}
	if rerr != nil {
		fmt.Fprintf(diag, "export interrupted: %d complete events written, last AuditEvent %s\n", n, orDashStr(lastID))
		if lastID != "" {
			return fmt.Errorf("export from the gateway interrupted after %d events: resume with -after %s", n, lastID)
		}
		return fmt.Errorf("export from the gateway interrupted after %d events", n)
	}
	fmt.Fprintf(diag, "exported %d events; last AuditEvent %s (continue later with -after %s)\n", n, orDashStr(lastID), orDashStr(lastID))
	return nil
}

func orDashStr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// eventID reads an AuditEvent line's id (the encoder writes resourceType
// then id first).
func eventID(line []byte) string {
	const key = `"id":"`
	s := string(line[:min(len(line), 200)])
	i := strings.Index(s, key)
	if i < 0 {
		return ""
	}
	s = s[i+len(key):]
	if j := strings.IndexByte(s, '"'); j >= 0 {
		return s[:j]
	}
	return ""
}

func auditReport(ctx context.Context, args []string, stdout io.Writer) error {
	fs := auditFlags("report")
	data := fs.String("data", "", "the gateway's data directory (DIR/audit.db; the gateway must be stopped)")
	from := fs.String("from", "", "first day (2026-11-01) or instant (default: the beginning)")
	to := fs.String("to", "", "last day, included (2026-11-30), or an instant, excluded (default: no end)")
	asCSV := fs.Bool("csv", false, "write CSV instead of text")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("report takes flags only")
	}
	var fromT, toT time.Time
	if *from != "" {
		if fromT, _, err = parseDay("from", *from); err != nil {
			return err
		}
	}
	if *to != "" {
		var dateOnly bool
		if toT, dateOnly, err = parseDay("to", *to); err != nil {
			return err
		}
		if dateOnly {
			toT = toT.AddDate(0, 0, 1)
		}
		if !toT.After(fromT) {
			return usagef("-to must be after -from")
		}
	}
	if *data == "" {
		return usagef("-data DIR is required")
	}
	store, err := openAudit(*data, true)
	if err != nil {
		return err
	}
	defer store.Close()
	sum, err := audit.BuildReport(ctx, store, fromT, toT)
	if err != nil {
		return err
	}
	if *asCSV {
		return sum.WriteCSV(stdout)
	}
	return sum.WriteText(stdout)
}

func auditArchive(ctx context.Context, args []string, stdout io.Writer) error {
	fs := auditFlags("archive")
	data := fs.String("data", "", "the gateway's data directory (DIR/audit.db; the gateway must be stopped)")
	before := fs.Uint64("before", 0, "move the records with a sequence number below this one")
	out := fs.String("o", "", "the new archive segment file (must not exist)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *before == 0 || *out == "" {
		return usagef("archive needs -data DIR -before SEQ -o SEGMENT.db")
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s already exists: an archive segment is never overwritten", *out)
	}
	store, err := openAudit(*data, false)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Archive(ctx, *before, *out); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "archived records below seq %d to %s\nverify with: migctl audit verify -data %s -archive %s\n", *before, *out, *data, *out)
	return err
}

// latestCheckpoint reads the latest signed checkpoint of the store at live,
// from where it recorded its log and key unless flags say otherwise.
func latestCheckpoint(live, logFlag, pubFlag string) (*audit.Checkpoint, ed25519.PublicKey, error) {
	place, err := auditbolt.ReadCheckpointPlace(live)
	if err != nil {
		return nil, nil, openError(live, err)
	}
	if logFlag != "" {
		place.Log, place.PublicKey = logFlag, audit.PublicKeyPath(logFlag)
	}
	if pubFlag != "" {
		place.PublicKey = pubFlag
	}
	if place.Log == "" {
		return nil, nil, fmt.Errorf("no checkpoint log recorded for this store: give -checkpoints")
	}
	pub, err := audit.ReadPublicKey(place.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint public key %s: %s", place.PublicKey, oneLine(err))
	}
	lr, err := audit.ReadCheckpoints(place.Log, pub)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint log %s cannot be read: %s", place.Log, oneLine(err))
	}
	if len(lr.Problems) > 0 {
		return nil, nil, fmt.Errorf("checkpoint log %s does not verify (first: %s): run audit verify", place.Log, lr.Problems[0])
	}
	if lr.Latest == nil {
		return nil, nil, fmt.Errorf("checkpoint log %s holds no checkpoint", place.Log)
	}
	return lr.Latest, pub, nil
}

// auditProve writes the inclusion proof of one AuditEvent in the Merkle
// tree the latest signed checkpoint signs: what an auditor checks with
// check-proof, without the rest of the log.
func auditProve(ctx context.Context, args []string, stdout io.Writer) error {
	fs := auditFlags("prove")
	data := fs.String("data", "", "the gateway's data directory (the gateway must be stopped)")
	id := fs.String("id", "", "the AuditEvent id to prove")
	var archives listFlag
	fs.Var(&archives, "archive", "an archive segment; repeat, oldest first (needed once records are archived)")
	logFlag := fs.String("checkpoints", "", "the signed checkpoint log (default: where the gateway recorded it)")
	pubFlag := fs.String("pubkey", "", "the checkpoint public key (default: where the gateway recorded it)")
	out := fs.String("o", "", "write the proof here (default standard output)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *id == "" {
		return usagef("prove needs -data DIR -id EVENT-ID")
	}
	live, err := storeFile(*data, "audit.db", true)
	if err != nil {
		return err
	}
	cp, _, err := latestCheckpoint(live, *logFlag, *pubFlag)
	if err != nil {
		return err
	}
	if cp.Root == "" {
		return fmt.Errorf("the latest checkpoint (seq %d) signs no Merkle root", cp.Seq)
	}
	leaves := make([][32]byte, 0, cp.Seq)
	var seq uint64
	stop := errors.New("stop")
	for _, p := range append(append([]string{}, archives...), live) {
		s, err := auditbolt.Open(p, auditbolt.Options{ReadOnly: true, Timeout: lockTimeout})
		if err != nil {
			return openError(p, err)
		}
		err = s.Scan(ctx, uint64(len(leaves)), func(st *audit.Stored) error {
			if st.Seq > cp.Seq {
				return stop
			}
			if st.Seq != uint64(len(leaves))+1 {
				return fmt.Errorf("record %d is missing (give the archive segments, oldest first)", len(leaves)+1)
			}
			if st.ID == *id {
				seq = st.Seq
			}
			leaves = append(leaves, audit.MerkleLeaf(st.Body))
			return nil
		})
		s.Close()
		if err != nil && !errors.Is(err, stop) {
			return err
		}
	}
	if uint64(len(leaves)) != cp.Seq {
		return fmt.Errorf("the store holds %d of the %d records the checkpoint covers: run audit verify", len(leaves), cp.Seq)
	}
	if seq == 0 {
		return fmt.Errorf("no AuditEvent with that id up to the latest checkpoint (seq %d)", cp.Seq)
	}
	if root := audit.MerkleRoot(leaves); hex.EncodeToString(root[:]) != cp.Root {
		return fmt.Errorf("the records do not give the Merkle root the checkpoint signs: run audit verify")
	}
	path, err := audit.InclusionProof(leaves, seq-1)
	if err != nil {
		return err
	}
	doc := audit.InclusionProofDoc{EventID: *id, Seq: seq, TreeSize: cp.Seq, LeafHash: hex.EncodeToString(leaves[seq-1][:]), Checkpoint: cp}
	for _, p := range path {
		doc.Path = append(doc.Path, hex.EncodeToString(p[:]))
	}
	b, err := json.MarshalIndent(&doc, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if *out == "" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "proof of record %d in the log of %d records written to %s\n", seq, cp.Seq, *out)
	return err
}

// auditCheckProof checks an inclusion proof against the AuditEvent (its
// bytes as exported: one NDJSON line) and the checkpoint public key.
func auditCheckProof(ctx context.Context, args []string, stdout io.Writer) error {
	fs := auditFlags("check-proof")
	proof := fs.String("proof", "", "the proof written by audit prove")
	event := fs.String("event", "", "the AuditEvent, exactly as exported (one NDJSON line)")
	pubFlag := fs.String("pubkey", "", "the gateway's checkpoint public key (PEM), from a trusted copy")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *proof == "" || *event == "" || *pubFlag == "" {
		return usagef("check-proof needs -proof FILE -event FILE -pubkey KEY.pub")
	}
	pb, err := os.ReadFile(*proof)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", *proof, errors.Unwrap(err))
	}
	var doc audit.InclusionProofDoc
	if err := json.Unmarshal(pb, &doc); err != nil {
		return fmt.Errorf("%s is not a proof written by audit prove", *proof)
	}
	eb, err := os.ReadFile(*event)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", *event, errors.Unwrap(err))
	}
	pub, err := audit.ReadPublicKey(*pubFlag)
	if err != nil {
		return fmt.Errorf("checkpoint public key %s: %s", *pubFlag, oneLine(err))
	}
	if err := audit.CheckInclusion(&doc, bytes.TrimSuffix(eb, []byte("\n")), pub); err != nil {
		return fmt.Errorf("proof does not hold: %v", err)
	}
	_, err = fmt.Fprintf(stdout, "proof holds: AuditEvent %s is record %d of the %d records signed at %s (key %s)\n",
		doc.EventID, doc.Seq, doc.TreeSize, doc.Checkpoint.Time.UTC().Format(time.RFC3339), audit.KeyID(pub))
	return err
}
