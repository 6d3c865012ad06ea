package auditpg

import "mig/internal/pgstore"

// component names this store's migrations in mig_schema_migrations.
const component = "audit"

// migrations are the audit tables, forwards only (pgstore.Migrate).
//
//	audit_head          one row: seq and hash of the last record. Every append
//	                    locks it (SELECT ... FOR UPDATE), so appends from every
//	                    node are serialised into one gapless chain.
//	audit_events        the records (seq, id, prev, hash, body) and the fields
//	                    they are searched by (audit.Attrs), indexed
//	audit_outbox        GP notifications owed, written in the append's
//	                    transaction; next is "not before" and, while a node
//	                    delivers an item, the end of its claim
//	audit_jobs          export jobs (the audit.ExportJob as JSON)
//	audit_export_parts  export files in parts of up to 1 MiB, per attempt
//	audit_export_files  the attempt whose parts are a job's file
//	audit_meta          hints (where the checkpoint log is)
var migrations = []pgstore.Migration{{Version: 1, SQL: `
CREATE TABLE audit_head (
	one  boolean PRIMARY KEY DEFAULT true CHECK (one),
	seq  bigint NOT NULL CHECK (seq >= 0),
	hash bytea NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO audit_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));

CREATE TABLE audit_events (
	seq       bigint PRIMARY KEY CHECK (seq > 0),
	id        text NOT NULL UNIQUE,
	prev      bytea NOT NULL,
	hash      bytea NOT NULL,
	body      bytea NOT NULL,
	at        bigint NOT NULL,
	emergency boolean NOT NULL,
	outcome   text NOT NULL,
	subtype   text NOT NULL,
	nhs       text NOT NULL,
	user_id   text NOT NULL,
	org       text NOT NULL,
	practice  text NOT NULL
);
CREATE INDEX audit_events_nhs ON audit_events (nhs, seq);
CREATE INDEX audit_events_user ON audit_events (user_id, seq);
CREATE INDEX audit_events_org ON audit_events (org, seq);
CREATE INDEX audit_events_practice ON audit_events (practice, seq);
CREATE INDEX audit_events_at ON audit_events (at, seq);
CREATE INDEX audit_events_outcome ON audit_events (outcome, seq) WHERE outcome <> '0';
CREATE INDEX audit_events_subtype ON audit_events (subtype, seq) WHERE subtype NOT IN ('read', 'search-type');
CREATE INDEX audit_events_emergency ON audit_events (seq) WHERE emergency;

CREATE TABLE audit_outbox (
	id       text PRIMARY KEY,
	seq      bigint NOT NULL,
	practice text NOT NULL,
	attempts integer NOT NULL DEFAULT 0,
	next     bigint NOT NULL DEFAULT 0,
	body     bytea
);
CREATE INDEX audit_outbox_due ON audit_outbox (next, id);

CREATE TABLE audit_jobs (
	id      text PRIMARY KEY,
	status  text NOT NULL,
	created bigint NOT NULL,
	updated bigint NOT NULL,
	job     jsonb NOT NULL
);
CREATE INDEX audit_jobs_open ON audit_jobs (created) WHERE status IN ('queued', 'running');

CREATE TABLE audit_export_parts (
	job     text NOT NULL,
	attempt text NOT NULL,
	n       integer NOT NULL,
	data    bytea NOT NULL,
	written bigint NOT NULL,
	PRIMARY KEY (job, attempt, n)
);
CREATE TABLE audit_export_files (
	job     text PRIMARY KEY,
	attempt text NOT NULL,
	parts   integer NOT NULL,
	size    bigint NOT NULL
);

CREATE TABLE audit_meta (
	key   text PRIMARY KEY,
	value text NOT NULL
);
`}}
