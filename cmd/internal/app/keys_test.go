package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mig/internal/testenv"
)

// TestKeyFiles: the gateway key is read only from a file its owner alone
// may read; a single node makes it on first start, a node on a shared
// store never does.
func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "gateway.key")
	if err := createKey(good); err != nil {
		t.Fatal(err)
	}
	if err := createKey(good); err == nil {
		t.Fatal("createKey overwrote an existing key")
	}
	k1, err := loadKey(good, "")
	if err != nil || len(k1) != 64 {
		t.Fatalf("loadKey: %d bytes, %v", len(k1), err)
	}
	for _, c := range []struct {
		name string
		mode os.FileMode
		body string
		want string
	}{
		{"group-readable", 0o640, strings.Repeat("ab", 64), "may be read by group or others (mode 0640): run chmod 600 "},
		{"world-readable", 0o644, strings.Repeat("ab", 64), "(mode 0644): run chmod 600 "},
		{"group-writable", 0o620, strings.Repeat("ab", 64), "(mode 0620): run chmod 600 "},
		{"short", 0o600, "abcd", "must hold 64 bytes as hex"},
		{"not hex", 0o600, strings.Repeat("zz", 64), "must hold 64 bytes as hex"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name+".key")
			if err := os.WriteFile(p, []byte(c.body), c.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, c.mode) // past the umask
			_, err := loadKey(p, "")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("loadKey(%s) = %v; want an error naming the file and %q", c.name, err, c.want)
			}
		})
	}
	if _, err := loadKey(dir, ""); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory as key file: %v", err)
	}

	// Who may make a missing key.
	for _, c := range []struct {
		name   string
		dev    bool
		store  string
		create bool
	}{
		{"bbolt single node", false, "", true},
		{"dev", true, "", true},
		{"dev on PostgreSQL", true, "postgres://mig@db/mig", true},
		{"PostgreSQL deployment", false, "postgres://mig@db/mig", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := NewMain()
			m.Dev = c.dev
			m.Config.DataDir = t.TempDir()
			m.Config.Store = c.store
			key, err := m.gatewayKey()
			path := filepath.Join(m.Config.DataDir, "gateway.key")
			if !c.create {
				if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "openssl rand -hex 64 > "+path) {
					t.Fatalf("gatewayKey on a shared store without a key file: %v", err)
				}
				if _, err := os.Stat(path); err == nil {
					t.Fatal("a key was made on a shared store")
				}
				return
			}
			if err != nil || len(key) != 64 {
				t.Fatalf("gatewayKey: %v", err)
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("made key: %v, mode %v", err, fi.Mode())
			}
			again, err := m.gatewayKey()
			if err != nil || string(again) != string(key) {
				t.Fatal("the key changed on the second read")
			}
		})
	}
}

// TestStartRefusesReadableKey: migd does not start with a gateway key its
// group may read, and says which file and what to run.
func TestStartRefusesReadableKey(t *testing.T) {
	data := t.TempDir()
	key := filepath.Join(data, "gateway.key")
	if err := createKey(key); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(key, 0o640); err != nil {
		t.Fatal(err)
	}
	m := NewMain()
	m.Dev = true
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = data
	m.DevIdPAddr = "127.0.0.1:0"
	m.Testdata = filepath.Join(testenv.ModuleRoot(t), "testdata")
	err := m.Run(context.Background())
	if err == nil {
		m.Close()
		t.Fatal("started with a group-readable gateway key")
	}
	if !strings.Contains(err.Error(), "chmod 600 "+key) {
		t.Fatalf("start error %q does not say what to run", err)
	}
}
