package auditpg

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"mig"
	"mig/audit"
)

// Pending claims up to limit notifications due at now, earliest first, for
// this node: in one statement it takes the due rows no other node holds
// (FOR UPDATE SKIP LOCKED) and moves their "not before" to now + Lease, so
// no other node is handed them until this one Acks or Defers them or the
// lease runs out (the node died). Each item's Next is its "not before" as
// it was when claimed.
func (s *Store) Pending(ctx context.Context, now time.Time, limit int) ([]audit.OutboxItem, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `
WITH due AS (
	SELECT id, next FROM audit_outbox WHERE next <= $1 ORDER BY next, id LIMIT $2 FOR UPDATE SKIP LOCKED
)
UPDATE audit_outbox o SET next = $3 FROM due WHERE o.id = due.id
RETURNING o.id, o.seq, o.practice, o.attempts, due.next,
	coalesce(o.body, (SELECT e.body FROM audit_events e WHERE e.seq = o.seq AND e.id = o.id))`,
		now.UnixNano(), limit, now.Add(s.opt.Lease).UnixNano())
	if err != nil {
		return nil, unavailable("audit outbox could not be read", err)
	}
	defer rows.Close()
	var out []audit.OutboxItem
	var nexts []int64
	for rows.Next() {
		var it audit.OutboxItem
		var seq, next int64
		if err := rows.Scan(&it.ID, &seq, &it.Practice, &it.Attempts, &next, &it.Body); err != nil {
			return nil, unavailable("audit outbox could not be read", err)
		}
		if it.Body == nil {
			return nil, unavailable("audit outbox could not be read", errors.New("a notification's record is missing"))
		}
		it.Seq = uint64(seq)
		if next != 0 {
			it.Next = time.Unix(0, next).UTC()
		}
		out = append(out, it)
		nexts = append(nexts, next)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("audit outbox could not be read", err)
	}
	// Earliest first, as the claim chose them (RETURNING keeps no order).
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if nexts[a] != nexts[b] {
			if nexts[a] < nexts[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(out[a].ID, out[b].ID)
	})
	sorted := make([]audit.OutboxItem, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted, nil
}

// Ack removes a delivered notification; an unknown id (one another node
// delivered) is not an error.
func (s *Store) Ack(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM audit_outbox WHERE id = $1`, id); err != nil {
		return unavailable("audit outbox could not be updated", err)
	}
	return nil
}

// Defer reschedules a notification after a failed delivery (ending this
// node's claim). An unknown id (already acknowledged) is not an error.
func (s *Store) Defer(ctx context.Context, id string, next time.Time, attempts int) error {
	if _, err := s.pool.Exec(ctx, `UPDATE audit_outbox SET next = $2, attempts = $3 WHERE id = $1`, id, next.UnixNano(), attempts); err != nil {
		return unavailable("audit outbox could not be updated", err)
	}
	return nil
}

// ImportOutbox carries pending notifications over from another store
// (migctl store copy), keeping their attempts and "not before". An item
// whose record is not in this store (it was archived away in the old one)
// keeps its body; an id already queued is left as it is.
func (s *Store) ImportOutbox(ctx context.Context, items ...audit.OutboxItem) error {
	if len(items) == 0 {
		return nil
	}
	ids, practices := make([]string, len(items)), make([]string, len(items))
	seqs, nexts, attempts := make([]int64, len(items)), make([]int64, len(items)), make([]int32, len(items))
	bodies := make([][]byte, len(items))
	for i, it := range items {
		if it.ID == "" || it.Practice == "" {
			return mig.Errorf(mig.EINVALID, "import: a notification without id or practice")
		}
		ids[i], practices[i], seqs[i], attempts[i], bodies[i] = it.ID, it.Practice, int64(it.Seq), int32(it.Attempts), it.Body
		if !it.Next.IsZero() {
			nexts[i] = it.Next.UnixNano()
		}
	}
	_, err := s.pool.Exec(ctx, `
INSERT INTO audit_outbox (id, seq, practice, attempts, next, body)
SELECT u.id, u.seq, u.practice, u.attempts, u.next,
	CASE WHEN EXISTS (SELECT 1 FROM audit_events e WHERE e.seq = u.seq AND e.id = u.id) THEN NULL ELSE u.body END
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::integer[], $5::bigint[], $6::bytea[]) AS u(id, seq, practice, attempts, next, body)
ON CONFLICT (id) DO NOTHING`, ids, seqs, practices, attempts, nexts, bodies)
	if err != nil {
		return unavailable("audit outbox could not be imported", err)
	}
	return nil
}

// --- export jobs ---

// PutJob stores an export job.
func (s *Store) PutJob(ctx context.Context, j *audit.ExportJob) error {
	v, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO audit_jobs (id, status, created, updated, job) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET status = excluded.status, created = excluded.created, updated = excluded.updated, job = excluded.job`,
		j.ID, j.Status, j.Created.UnixNano(), j.Updated.UnixNano(), v)
	if err != nil {
		return unavailable("export job could not be stored", err)
	}
	return nil
}

// GetJob returns an export job, or ENOTFOUND.
func (s *Store) GetJob(ctx context.Context, id string) (*audit.ExportJob, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT job FROM audit_jobs WHERE id = $1`, id).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, mig.Errorf(mig.ENOTFOUND, "no export job with that id")
	}
	if err != nil {
		return nil, unavailable("export job could not be read", err)
	}
	j := new(audit.ExportJob)
	if err := json.Unmarshal(v, j); err != nil {
		return nil, unavailable("export job could not be read", err)
	}
	return j, nil
}

// ClaimJob marks the oldest queued job (or a running one not updated since
// staleBefore) running at now and returns it; nil when there is none. A
// job another node is claiming at the same moment is skipped (SKIP LOCKED).
func (s *Store) ClaimJob(ctx context.Context, now, staleBefore time.Time) (*audit.ExportJob, error) {
	var claimed *audit.ExportJob
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var v []byte
		err := tx.QueryRow(ctx, `SELECT job FROM audit_jobs
WHERE status = 'queued' OR (status = 'running' AND updated < $1)
ORDER BY created, id LIMIT 1 FOR UPDATE SKIP LOCKED`, staleBefore.UnixNano()).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		j := new(audit.ExportJob)
		if err := json.Unmarshal(v, j); err != nil {
			return err
		}
		j.Status, j.Updated = audit.JobRunning, now
		nv, err := json.Marshal(j)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE audit_jobs SET status = $2, updated = $3, job = $4 WHERE id = $1`, j.ID, j.Status, now.UnixNano(), nv); err != nil {
			return err
		}
		claimed = j
		return nil
	})
	if err != nil {
		return nil, unavailable("export job could not be claimed", err)
	}
	return claimed, nil
}
