package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Key files. The gateway's secret (gateway.key: resource ids and paging
// cursors) and the audit signing key are read from files that only their
// owner may read, never from the environment (which /proc shows to anyone
// who can read the process's files). Nodes of one deployment share both
// files; a node makes one only where it is alone: -dev, or bbolt stores in
// its own data directory. On PostgreSQL a missing key file refuses the
// start, so two nodes can never serve with two keys (ids and cursors from
// one would not open on the other).

// gatewayKeyPath is the gateway key's file: keyFile, or gateway.key in the
// data directory.
func (c *Config) gatewayKeyPath() string {
	if c.KeyFile != "" {
		return c.KeyFile
	}
	return filepath.Join(c.DataDir, "gateway.key")
}

// mayCreateKeys reports whether this node may make a missing key: only
// when it is the only node there can be.
func (m *Main) mayCreateKeys() bool { return m.Dev || !m.Config.postgres() }

// gatewayKey reads the gateway key, making it (mode 0600) on a single
// node's first start.
func (m *Main) gatewayKey() ([]byte, error) {
	path := m.Config.gatewayKeyPath()
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if !m.mayCreateKeys() {
			return nil, fmt.Errorf("key file %s does not exist: nodes on a shared store must all read one key, so none is made here; make it once (openssl rand -hex 64 > %s && chmod 600 %s), copy it to every node, and set keyFile", path, path, path)
		}
		if err := createKey(path); err != nil {
			return nil, err
		}
	}
	return loadKey(path, "")
}

// createKey writes 64 random bytes as hex at path (mode 0600), failing if
// a file is already there.
func createKey(path string) error {
	key := make([]byte, 64)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("key file: %v", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("key file %s: %v", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("key file %s: %v", path, err)
	}
	return f.Close()
}

// loadKey reads the gateway's 64-byte secret (hex) from path (fallback
// when path is empty): a regular file only its owner may read.
func loadKey(path, fallback string) ([]byte, error) {
	if path == "" {
		path = fallback
	}
	if err := ownerOnly("key file", path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %v", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 64 {
		return nil, fmt.Errorf("key file %s must hold 64 bytes as hex (openssl rand -hex 64)", path)
	}
	return key, nil
}

// ownerOnly refuses a secret file that is not a regular file or that its
// group or others may read or write, naming the file and the fix.
func ownerOnly(what, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s %s is not a regular file", what, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s may be read by group or others (mode %04o): run chmod 600 %s", what, path, perm, path)
	}
	return nil
}
