package app

import (
	"context"
	"fmt"
)

// openPostgres opens the PostgreSQL stores (issue 15; wired once audit/pg,
// consent/pg and adapters/locator/pg land).
func (m *Main) openPostgres(context.Context) (*stores, error) {
	return nil, fmt.Errorf("store: PostgreSQL stores are not wired into this build yet")
}
