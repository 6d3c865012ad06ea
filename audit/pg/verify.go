package auditpg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"mig/audit"
)

// Names verification reports give to what it found a problem in.
const (
	tableEvents = "audit_events"
	tableHead   = "audit_head"
	tableOutbox = "audit_outbox"
)

// Verify checks the store in one consistent snapshot (a REPEATABLE READ,
// READ ONLY transaction, so nodes may go on appending): the chain
// (audit.ChainVerifier: hashes, links, gaps, order, the checkpoint and its
// Merkle root), each body against its record's id and the search fields
// stored beside it (rebuilt from the body), the head row against the last
// record, and each pending notification against its record. With
// opt.AfterCheckpoint, records up to the checkpoint get hashes and links
// only (what a node checks at start).
//
// PostgreSQL keeps the indexes itself, so there are no index entries to
// compare: a changed search field is found in its row. Archiving is not a
// PostgreSQL operation (README, "Audit on PostgreSQL"), so the chain
// always starts at seq 1.
func (s *Store) Verify(ctx context.Context, opt audit.VerifyOptions) (*audit.VerifyReport, error) {
	v := audit.NewChainVerifier(opt, tableEvents)
	r := v.Report()
	v.Anchor(tableEvents, 0, [32]byte{})
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var headSeq int64
		var headHash []byte
		if err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_head`).Scan(&headSeq, &headHash); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT seq, id, prev, hash, body, at, emergency, outcome, subtype, nhs, user_id, org, practice
FROM audit_events ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		var n uint64
		for rows.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var seq int64
			var prev, hash []byte
			var a audit.Attrs
			st := &audit.Stored{}
			if err := rows.Scan(&seq, &st.ID, &prev, &hash, &st.Body, &a.Time, &a.Emergency, &a.Outcome, &a.Subtype,
				&a.NHSNumber, &a.UserID, &a.OrgODS, &a.Practice); err != nil {
				return err
			}
			st.Seq = uint64(seq)
			var rec *audit.Stored
			if len(prev) == 32 && len(hash) == 32 {
				copy(st.Prev[:], prev)
				copy(st.Hash[:], hash)
				rec = st
			}
			if !v.Record(tableEvents, st.Seq, rec) {
				continue
			}
			d := v.Body(tableEvents, st.Seq, st)
			if d == nil {
				continue
			}
			r.IndexEntries++
			for _, df := range audit.DiffAttrs(audit.ExpectedAttrs(d, a), a) {
				v.Add(audit.Problem{File: tableEvents, Kind: audit.ProblemAttrs, Seq: st.Seq, Detail: "search fields: " + df})
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		next, last := v.Next()
		switch {
		case len(headHash) != 32:
			v.Add(audit.Problem{File: tableHead, Kind: audit.ProblemFormat, Detail: "head: bad hash"})
		case uint64(headSeq) != next-1:
			v.Add(audit.Problem{File: tableHead, Kind: audit.ProblemHead, Seq: uint64(headSeq), Detail: fmt.Sprintf("last appended record was seq %d, last stored is seq %d", headSeq, next-1)})
		case string(headHash) != string(last[:]):
			v.Add(audit.Problem{File: tableHead, Kind: audit.ProblemHead, Seq: uint64(headSeq), Detail: fmt.Sprintf("head hash differs from record %d's hash", headSeq)})
		}
		return s.verifyOutbox(ctx, tx, v)
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, unavailable("audit store could not be verified", err)
	}
	return v.Finish(), nil
}

// verifyOutbox checks that each pending notification names a record with
// its id and practice (or, imported from a store that had archived its
// record, carries the body).
func (s *Store) verifyOutbox(ctx context.Context, tx pgx.Tx, v *audit.ChainVerifier) error {
	rows, err := tx.Query(ctx, `SELECT o.seq, o.id, o.practice, o.body IS NOT NULL, e.id, e.practice
FROM audit_outbox o LEFT JOIN audit_events e ON e.seq = o.seq ORDER BY o.seq, o.id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	r := v.Report()
	for rows.Next() {
		var seq int64
		var id, practice string
		var hasBody bool
		var recID, recPractice *string
		if err := rows.Scan(&seq, &id, &practice, &hasBody, &recID, &recPractice); err != nil {
			return err
		}
		r.IndexEntries++
		switch {
		case recID == nil && hasBody:
			// carried over from a store that had archived the record
		case recID == nil:
			v.Add(audit.Problem{File: tableOutbox, Kind: audit.ProblemOutbox, Seq: uint64(seq), Detail: "outbox: notification of a missing record"})
		case *recID != id:
			v.Add(audit.Problem{File: tableOutbox, Kind: audit.ProblemOutbox, Seq: uint64(seq), Detail: "outbox: notification id is not its record's id"})
		case *recPractice != practice:
			v.Add(audit.Problem{File: tableOutbox, Kind: audit.ProblemOutbox, Seq: uint64(seq), Detail: fmt.Sprintf("outbox: practice expected %q, found %q", *recPractice, practice)})
		}
	}
	return rows.Err()
}
