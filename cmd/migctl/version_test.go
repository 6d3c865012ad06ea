package main

import (
	"runtime"
	"strings"
	"testing"

	"mig/cmd/internal/app"
)

func TestVersion(t *testing.T) {
	code, out, errOut := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "migctl "+app.Version+" (module ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("migctl version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, _ := runCLI(t, "version", "extra"); code != 2 {
		t.Errorf("migctl version extra: exit %d, want 2", code)
	}
}
