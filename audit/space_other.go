//go:build !unix

package audit

import "errors"

// freeBytes is not implemented here: the floors are not enforced.
func freeBytes(string) (uint64, error) { return 0, errors.New("free space not known on this platform") }
