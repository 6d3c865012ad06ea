package main

import "testing"

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
