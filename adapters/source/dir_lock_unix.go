//go:build unix

package source

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f, held until f is closed: flock(2),
// which Linux's NFS client maps to a POSIX lock the server arbitrates, so
// nodes sharing the log over NFS (v4, or v3 with lockd) serialise too.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}
