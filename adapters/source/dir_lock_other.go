//go:build !unix

package source

import "os"

// lockFile does nothing where flock is missing: appends are serialised
// within the process only, so one process at a time may use the log.
func lockFile(*os.File) error { return nil }
