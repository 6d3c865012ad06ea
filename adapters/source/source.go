// Package source is how the gateway reaches a GP practice's system at
// request time: fetch one patient's extract, list the patients it holds
// (for the patient locator), read registration demographics, and tell it of
// each access. Implementations: a directory (dir.go) and an HTTP endpoint
// (http.go). Nothing here stores a copy of a record.
package source

import (
	"context"
	"io"

	"mig/adapters/record"
)

// Source is one practice's GP system.
type Source interface {
	// Fetch opens the patient's current extract. It returns a mig.Error
	// ENOTFOUND when the practice holds no record for nhs, EUNAVAILABLE or
	// ETIMEOUT (naming the practice by ODS code) when the system cannot be
	// reached. The caller closes the reader.
	Fetch(ctx context.Context, nhs string) (io.ReadCloser, error)

	// Patients calls fn with every NHS number the practice holds.
	Patients(ctx context.Context, fn func(nhs string) error) error

	// Demographics returns the practice's registration details for nhs
	// (name, birth date, sex, address, deceased / deducted / sensitive
	// flags), or a mig.Error ENOTFOUND when it has none.
	Demographics(ctx context.Context, nhs string) (*record.Patient, error)

	// Notify tells the GP system of one access. n.ID is an idempotency key:
	// sending the same notification twice must not count twice.
	Notify(ctx context.Context, n Notification) error
}

// Notification is an access to tell the GP system about: an AuditEvent
// with no clinical content.
type Notification struct {
	ID   string // the AuditEvent id, used as idempotency key
	Body []byte // the AuditEvent as FHIR JSON
}

// Practice is a GP practice the gateway reads from.
type Practice struct {
	ODS    string // ODS code
	Name   string
	Format string // adapter name: gp2gp, emis, tpp
	Source Source
}
