package main

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"testing"

	"mig/cmd/internal/app"
)

// TestExitCode: asking for help is a success; a bad flag or a missing mode
// is not.
func TestExitCode(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"-h"}, 0},
		{[]string{"-help"}, 0},
		{[]string{"--help"}, 0},
		{[]string{"-no-such-flag"}, 1},
		{nil, 1}, // neither -dev nor -config
		{[]string{"-dev", "-config", "x.json"}, 1},
	}
	for _, tc := range tests {
		if got := exitCode(run(tc.args)); got != tc.want {
			t.Errorf("migd %v: exit %d, want %d", tc.args, got, tc.want)
		}
	}
}

// TestVersion: -version prints one line naming the gateway's version and
// the Go version, and starts nothing.
func TestVersion(t *testing.T) {
	var buf bytes.Buffer
	stdout = &buf
	defer func() { stdout = os.Stdout }()
	if err := run([]string{"-version"}); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if !strings.HasPrefix(line, "migd "+app.Version+" (module ") || !strings.Contains(line, runtime.Version()) || strings.Count(line, "\n") != 1 {
		t.Errorf("migd -version printed %q", line)
	}
}
