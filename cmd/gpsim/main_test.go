package main

import "testing"

// TestExitCode: asking for help is a success; a bad flag or a missing
// -dir is not.
func TestExitCode(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"-h"}, 0},
		{[]string{"--help"}, 0},
		{[]string{"-no-such-flag"}, 1},
		{nil, 1}, // -dir is required
	}
	for _, tc := range tests {
		if got := exitCode(run(tc.args)); got != tc.want {
			t.Errorf("gpsim %v: exit %d, want %d", tc.args, got, tc.want)
		}
	}
}
