package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	if _, err := parse([]string{"-gateway", "http://gw"}); err == nil || !strings.Contains(err.Error(), "-dev") {
		t.Errorf("a deployment without issuer, client, key and public URL: %v", err)
	}
	o, err := parse([]string{"-dev", "-frame-ancestors", "https://a.example, https://b.example"})
	if err != nil || !o.dev {
		t.Fatalf("-dev: %v", err)
	}
	if got := splitList(o.frameAncestors); len(got) != 2 || got[1] != "https://b.example" {
		t.Errorf("frame ancestors %q", got)
	}
	if _, err := parse([]string{"-dev", "extra"}); err == nil {
		t.Error("a stray argument was accepted")
	}
}

func TestSessionKeyFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "k")
	if _, err := loadOrCreateKey(file, false); err == nil {
		t.Error("a missing key file was accepted outside -dev")
	}
	k1, err := loadOrCreateKey(file, true)
	if err != nil || len(k1) != 32 {
		t.Fatalf("created key: %d bytes, %v", len(k1), err)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	k2, _ := loadOrCreateKey(file, true)
	if string(k1) != string(k2) {
		t.Error("the key changed on restart: sessions would not survive it")
	}
	os.WriteFile(file, []byte("abcd\n"), 0o600)
	if _, err := loadOrCreateKey(file, true); err == nil {
		t.Error("a short key was accepted")
	}
}
