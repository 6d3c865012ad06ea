package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mig/audit"
	auditbolt "mig/audit/bolt"
	auditpg "mig/audit/pg"
	"mig/consent"
	consentbolt "mig/consent/bolt"
	consentpg "mig/consent/pg"
	"mig/internal/pgstore"
)

const storeUsage = `usage:
  migctl store copy -from DIR -to postgres://... [-archive SEGMENT.db ...]
                    [-to-ca FILE] [-to-cert FILE -to-key FILE]

copy moves a single gateway's bbolt stores (DIR: its data directory; the
gateway must be stopped) into an empty PostgreSQL database: the audit log with
its chain (from seq 1: give the archive segments of an archived store, oldest
first), the pending access notifications, every agreement with its history,
and every consent to view. The chain is verified on arrival. Launches and
client assertions (minutes-long, single-use) and export jobs are not copied;
the patient index is rebuilt by the gateways from the practices' lists.
`

// cmdStore moves stores between backends.
func cmdStore(ctx context.Context, args []string, stdout, _ io.Writer) error {
	return dispatch(ctx, "store", storeUsage, args, stdout, []subcommand{
		{"copy", storeCopy},
	})
}

// storeFlags are a PostgreSQL store's URL and TLS files, as flags.
type storeFlags struct{ u, ca, cert, key *string }

// addStoreFlags adds -NAME (the URL) and -NAME-ca, -NAME-cert, -NAME-key.
func addStoreFlags(fs *flag.FlagSet, name, usage string) *storeFlags {
	return &storeFlags{
		u:    fs.String(name, "", usage),
		ca:   fs.String(name+"-ca", "", "PEM roots the PostgreSQL server's certificate must chain to (verified with its name)"),
		cert: fs.String(name+"-cert", "", "client certificate (PEM) for mutual TLS to PostgreSQL"),
		key:  fs.String(name+"-key", "", "the client certificate's key (PEM, owner-only)"),
	}
}

func (f *storeFlags) url() string { return *f.u }

// connect opens a pool on the store the flags name.
func (f *storeFlags) connect(ctx context.Context) (*pgxpool.Pool, error) {
	if !pgstore.IsURL(*f.u) {
		return nil, usagef("the store must be a postgres:// URL")
	}
	return pgstore.Connect(ctx, pgstore.Options{URL: *f.u, CAFile: *f.ca, CertFile: *f.cert, KeyFile: *f.key, MaxConns: 4})
}

// auditVerifyPostgres verifies a PostgreSQL audit store in one consistent
// snapshot (the gateways may go on appending): the chain, each record's
// search fields against its body, the head row and the pending
// notifications, and the latest signed checkpoint of the log the store
// names (or -checkpoints). Several nodes keep one log each: give each with
// -checkpoints in turn.
func auditVerifyPostgres(ctx context.Context, pg *storeFlags, logFlag, pubFlag string, stdout io.Writer) error {
	pool, err := pg.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	store, err := auditpg.Open(ctx, pool, auditpg.Options{})
	if err != nil {
		return fmt.Errorf("audit store on %s: %s", pgstore.Redact(pg.url()), oneLine(err))
	}
	defer store.Close()
	place, err := store.CheckpointPlace(ctx)
	if err != nil {
		return fmt.Errorf("audit store on %s: %s", pgstore.Redact(pg.url()), oneLine(err))
	}
	cp, cpProblems, err := verifyCheckpoint(place, logFlag, pubFlag, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "store: %s\n", pgstore.Redact(pg.url()))
	rep, err := store.Verify(ctx, audit.VerifyOptions{Checkpoint: cp})
	if err != nil {
		return fmt.Errorf("audit store on %s could not be verified: %s", pgstore.Redact(pg.url()), oneLine(err))
	}
	return printVerify(stdout, rep, cp, place.Log, cpProblems)
}

// copyBatch is how many audit records go into PostgreSQL per transaction.
const copyBatch = 1000

// storeCopy copies a bbolt data directory into an empty PostgreSQL store.
func storeCopy(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("store copy")
	from := fs.String("from", "", "the gateway's data directory (bbolt; the gateway must be stopped)")
	var archives listFlag
	fs.Var(&archives, "archive", "an archive segment of the audit store (audit archive); repeat, oldest first")
	to := addStoreFlags(fs, "to", "the PostgreSQL store to fill (postgres://...): it must be empty")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("store copy takes flags only")
	}
	if to.url() == "" {
		return usagef("-to postgres://... is required")
	}
	live, err := storeFile(*from, "audit.db", true)
	if err != nil {
		return err
	}
	consentPath, err := storeFile(*from, "consent.db", true)
	if err != nil {
		return err
	}
	for _, p := range archives {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("cannot open archive %s: %v", p, errors.Unwrap(err))
		}
	}
	where := pgstore.Redact(to.url())

	// The target: reachable, migrated, empty.
	pool, err := to.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	dst, err := auditpg.Open(ctx, pool, auditpg.Options{})
	if err != nil {
		return fmt.Errorf("audit store on %s: %s", where, oneLine(err))
	}
	defer dst.Close()
	dstConsent, err := consentpg.Open(ctx, pool)
	if err != nil {
		return fmt.Errorf("consent store on %s: %s", where, oneLine(err))
	}
	for _, table := range []string{"audit_events", "audit_outbox", "consent_agreements", "consent_view_consents"} {
		var any bool
		if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+table+")").Scan(&any); err != nil {
			return fmt.Errorf("%s: %s", where, oneLine(err))
		}
		if any {
			return fmt.Errorf("%s is not empty (%s has rows): copy only into a new database", where, table)
		}
	}

	// The sources, read-only.
	place, err := auditbolt.ReadCheckpointPlace(live)
	if err != nil {
		return openError(live, err)
	}
	src, err := auditbolt.Open(live, auditbolt.Options{ReadOnly: true})
	if err != nil {
		return openError(live, err)
	}
	defer src.Close()
	srcConsent, err := consentbolt.Open(consentPath)
	if err != nil {
		return openError(consentPath, err)
	}
	defer srcConsent.Close()

	// Agreements, each with every version, oldest first (versions keep
	// their numbers), then consents to view in the order recorded.
	agreements, err := srcConsent.Agreements().List(ctx)
	if err != nil {
		return fmt.Errorf("%s: %s", consentPath, oneLine(err))
	}
	versions := 0
	for _, a := range agreements {
		hist, err := srcConsent.Agreements().History(ctx, a.ID)
		if err != nil {
			return fmt.Errorf("%s: %s", consentPath, oneLine(err))
		}
		for _, v := range hist {
			want := v.Version
			if err := dstConsent.Agreements().Put(ctx, v); err != nil {
				return fmt.Errorf("agreement %s version %d: %s", a.ID, want, oneLine(err))
			}
			if v.Version != want {
				return fmt.Errorf("agreement %s: version %d arrived as %d", a.ID, want, v.Version)
			}
			versions++
		}
	}
	consents := 0
	if err := srcConsent.EachViewConsent(ctx, func(c *consent.ViewConsent) error {
		consents++
		return dstConsent.ViewConsents().Put(ctx, c)
	}); err != nil {
		return fmt.Errorf("consents to view: %s", oneLine(err))
	}
	fmt.Fprintf(stdout, "agreements: %d (%d versions)\nconsents to view: %d\n", len(agreements), versions, consents)

	// The audit log: archive segments, then the live file, from seq 1,
	// checked record by record as it goes (Import refuses a record that
	// does not follow the one before or whose hash is wrong).
	start := time.Now()
	var batch []*audit.Stored
	var copied uint64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := dst.Import(ctx, batch...); err != nil {
			return fmt.Errorf("audit records %d-%d: %s", batch[0].Seq, batch[len(batch)-1].Seq, oneLine(err))
		}
		copied += uint64(len(batch))
		batch = batch[:0]
		return nil
	}
	var next uint64 = 1
	for _, path := range append(append([]string{}, archives...), live) {
		s := src
		if path != live {
			seg, err := auditbolt.Open(path, auditbolt.Options{ReadOnly: true})
			if err != nil {
				return openError(path, err)
			}
			s = seg
			defer seg.Close()
		}
		err := s.Scan(ctx, next-1, func(st *audit.Stored) error {
			if st.Seq != next {
				if next == 1 {
					return fmt.Errorf("%s starts at seq %d: the records before it were archived; give their segments with -archive, oldest first", filepath.Base(path), st.Seq)
				}
				return fmt.Errorf("%s: seq %d follows seq %d", filepath.Base(path), st.Seq, next-1)
			}
			cp := *st
			batch = append(batch, &cp)
			next++
			if len(batch) >= copyBatch {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}

	// Notifications still owed, with their attempts and "not before".
	owed, err := src.Pending(ctx, time.Now().Add(100*365*24*time.Hour), 1<<30)
	if err != nil {
		return fmt.Errorf("%s: %s", live, oneLine(err))
	}
	if err := dst.ImportOutbox(ctx, owed...); err != nil {
		return fmt.Errorf("access notifications: %s", oneLine(err))
	}
	if place.Log != "" { // where the checkpoint log was: a hint for migctl audit verify
		if err := dst.SetCheckpointPlace(ctx, place); err != nil {
			return fmt.Errorf("checkpoint place: %s", oneLine(err))
		}
	}

	// Verified on arrival: the whole chain, and its head is the source's.
	srcSeq, srcHash, err := src.Last(ctx)
	if err != nil {
		return fmt.Errorf("%s: %s", live, oneLine(err))
	}
	rep, err := dst.Verify(ctx, audit.VerifyOptions{})
	if err != nil {
		return fmt.Errorf("verify %s: %s", where, oneLine(err))
	}
	if !rep.OK() {
		p, _ := rep.First()
		return fmt.Errorf("the copy does not verify: %d problems, first %s at seq %d: %s", rep.ProblemsTotal, p.Kind, p.Seq, p.Detail)
	}
	if rep.LastSeq != srcSeq || rep.LastHash != srcHash {
		return fmt.Errorf("the copy ends at seq %d, the source at seq %d (or their head hashes differ)", rep.LastSeq, srcSeq)
	}
	fmt.Fprintf(stdout, "audit records: %d (seq 1 to %d) in %s, chain verified on arrival, head matches the source\naccess notifications owed: %d\n",
		copied, srcSeq, time.Since(start).Round(time.Millisecond), len(owed))
	_, err = fmt.Fprintln(stdout, "not copied: launches and client assertions (minutes-long, single-use), export jobs; the patient index is rebuilt by the gateways")
	return err
}
