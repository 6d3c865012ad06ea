package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/jackc/pgx/v5/pgxpool"

	"mig/adapters/locator"
	locbolt "mig/adapters/locator/bolt"
	"mig/audit"
	auditbolt "mig/audit/bolt"
	"mig/consent"
	consentbolt "mig/consent/bolt"
	"mig/internal/pgstore"
)

// StoreTLSConfig is the "storeTls" block: TLS to PostgreSQL from files
// (never from the environment). With caFile the server's certificate is
// verified against it and its name; certFile and keyFile are the client's
// certificate for mutual TLS.
type StoreTLSConfig struct {
	CAFile   string `json:"caFile"`
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
}

// postgres reports whether the stores live in PostgreSQL.
func (c *Config) postgres() bool { return pgstore.IsURL(c.Store) }

var nodeIDShape = regexp.MustCompile(`^[A-Za-z0-9._\-]{1,64}$`)

func (c *Config) validateStore() []string {
	var errs []string
	if c.Store != "" && !c.postgres() {
		errs = append(errs, "store must be empty (bbolt files in dataDir) or a postgres:// URL")
	}
	if !c.postgres() && (c.StoreTLS != StoreTLSConfig{} || c.StoreMaxConns != 0) {
		errs = append(errs, "storeTls and storeMaxConns apply only to a postgres:// store")
	}
	if c.StoreMaxConns < 0 {
		errs = append(errs, "storeMaxConns must not be negative")
	}
	if (c.StoreTLS.CertFile == "") != (c.StoreTLS.KeyFile == "") {
		errs = append(errs, "storeTls.certFile and storeTls.keyFile go together")
	}
	if c.NodeID != "" && !nodeIDShape.MatchString(c.NodeID) {
		errs = append(errs, "nodeId must be 1-64 letters, digits, dots, dashes or underscores")
	}
	return errs
}

// nodeName is this node's id: nodeId, or host name and process id.
func (c *Config) nodeName() string {
	if c.NodeID != "" {
		return c.NodeID
	}
	host, err := os.Hostname()
	if err != nil || !nodeIDShape.MatchString(host) {
		host = "node"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// auditStore is what the gateway needs of its audit store: the log, its
// outbox and export jobs, and its head for checkpoints; bbolt (audit/bolt)
// or PostgreSQL (audit/pg).
type auditStore interface {
	audit.Store
	audit.Outbox
	audit.JobStore
	audit.ChainHead
	Last(ctx context.Context) (seq uint64, hash [32]byte, err error)
}

// consentStores are the consent package's stores of one backend.
type consentStores interface {
	Agreements() consent.AgreementStore
	ViewConsents() consent.ViewConsentStore
	Launches() consent.LaunchStore
	io.Closer
}

// locatorIndex is the patient index of one backend.
type locatorIndex interface {
	locator.Index
	io.Closer
}

// stores is what a node opens: the bbolt files in its data directory, or
// the tables of one PostgreSQL database every node shares.
type stores struct {
	audit    auditStore
	consents consentStores
	index    locatorIndex
	lease    locator.Lease // nil: a single node refreshes the index alone
	pool     *pgxpool.Pool // PostgreSQL only: readiness probes it
	closers  []io.Closer   // in the order to close them

	// verify checks the audit records after latest at start (hashes and
	// links of every record; attributes and indexes of those after it),
	// returning the records checked or the first problem as an error.
	verify func(ctx context.Context, latest *audit.Checkpoint) (uint64, error)
	// setCheckpointPlace records where the checkpoint log and public key
	// are, so migctl audit verify finds them.
	setCheckpointPlace func(ctx context.Context, log, pub string) error
	// describe names the store in messages: a data directory or a
	// redacted URL.
	describe string
}

func (s *stores) close() error {
	var first error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	s.closers = nil
	return first
}

// openBolt opens the bbolt stores of a single node's data directory.
func openBolt(dir string) (_ *stores, err error) {
	s := &stores{describe: "data directory " + dir}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	a, err := auditbolt.Open(filepath.Join(dir, "audit.db"), auditbolt.Options{})
	if err != nil {
		return nil, storeError("audit store", dir, err)
	}
	s.audit, s.closers = a, append(s.closers, a)
	s.verify = func(ctx context.Context, latest *audit.Checkpoint) (uint64, error) {
		rep, err := a.Verify(ctx, auditbolt.VerifyOptions{Checkpoint: latest, AfterCheckpoint: true})
		if err != nil {
			return 0, fmt.Errorf("audit store could not be verified: %v", err)
		}
		if !rep.OK() {
			p, _ := rep.First()
			return rep.Records, fmt.Errorf("audit store refused: %d problems, first %s at seq %d: %s; refusing to serve; run migctl audit verify -data %s", rep.ProblemsTotal, p.Kind, p.Seq, p.Detail, dir)
		}
		return rep.Records, nil
	}
	s.setCheckpointPlace = func(ctx context.Context, log, pub string) error {
		return a.SetCheckpointPlace(ctx, auditbolt.CheckpointPlace{Log: log, PublicKey: pub})
	}
	c, err := consentbolt.Open(filepath.Join(dir, "consent.db"))
	if err != nil {
		return nil, storeError("consent store", dir, err)
	}
	s.consents, s.closers = c, append(s.closers, c)
	x, err := locbolt.Open(filepath.Join(dir, "locator.db"))
	if err != nil {
		return nil, storeError("patient index", dir, err)
	}
	s.index, s.closers = x, append(s.closers, x)
	return s, nil
}

// openStores opens this node's stores and, on PostgreSQL, gives readiness
// its database probe.
func (m *Main) openStores(ctx context.Context) (*stores, error) {
	if m.Config.postgres() {
		return m.openPostgres(ctx)
	}
	return openBolt(m.Config.DataDir)
}

// verifyCommand is the migctl command that checks this node's audit store.
func (m *Main) verifyCommand() string {
	if m.Config.postgres() {
		return "migctl audit verify -store " + pgstore.Redact(m.Config.Store)
	}
	return "migctl audit verify -data " + m.Config.DataDir
}
