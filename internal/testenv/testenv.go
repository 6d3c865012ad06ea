// Package testenv finds the files tests read: the module root, the
// project's synthetic testdata, and the reference material in
// ../shared/reference, which tests read in place (it is never copied into
// the project) and skip without when it is absent.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// ModuleRoot returns the directory holding go.mod, found upward from the
// test's working directory (its package directory).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Testdata returns a path under the module's testdata folder.
func Testdata(t testing.TB, elem ...string) string {
	t.Helper()
	return filepath.Join(append([]string{ModuleRoot(t), "testdata"}, elem...)...)
}

// Reference returns a path under ../shared/reference beside the module,
// skipping the test with a message when it is not there.
func Reference(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{ModuleRoot(t), "..", "shared", "reference"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("reference material not present (%s): ../shared/reference is read in place and never copied into the project", filepath.Join(elem...))
	}
	return p
}
