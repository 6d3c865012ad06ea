package bolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"mig/adapters/locator/bolt"
)

func list(nums ...string) func(func(string) error) error {
	return func(add func(string) error) error {
		for _, n := range nums {
			if err := add(n); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Duplicates count once; invalid numbers are skipped.
	if err := x.Replace(ctx, "A99901", list("9990001014", "9990001006", "9990001006", "12345", "9990001000")); err != nil {
		t.Fatal(err)
	}
	if err := x.Replace(ctx, "A99902", list("9990001006")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("listing broke")
	if err := x.Replace(ctx, "A99902", func(add func(string) error) error { add("9990001022"); return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed listing: %v", err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x, err = bolt.Open(path) // persisted
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for nhs, want := range map[string][]string{
		"9990001006": {"A99901", "A99902"},
		"9990001014": {"A99901"},
		"9990001022": nil,
		"9990001000": nil,
		"99900010":   nil,
	} {
		got, err := x.Lookup(ctx, nhs)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %v %v, want %v", nhs, got, err, want)
		}
	}
	st, err := x.Stats(ctx)
	if err != nil || st.Numbers != 3 || st.Practices["A99901"].Count != 2 || st.Practices["A99901"].Generation != 1 || st.Bytes == 0 {
		t.Fatalf("stats %+v %v", st, err)
	}
	// Replace applies the difference.
	if err := x.Replace(ctx, "A99901", list("9990001022", "9990001014")); err != nil {
		t.Fatal(err)
	}
	for nhs, want := range map[string][]string{"9990001006": {"A99902"}, "9990001014": {"A99901"}, "9990001022": {"A99901"}} {
		if got, _ := x.Lookup(ctx, nhs); !slices.Equal(got, want) {
			t.Errorf("after replace %s: %v, want %v", nhs, got, want)
		}
	}
	if st, _ := x.Stats(ctx); st.Practices["A99901"].Generation != 2 || st.Numbers != 3 {
		t.Errorf("stats after replace %+v", st)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := x.Replace(cctx, "A99901", list()); err == nil {
		t.Error("cancelled replace applied")
	}
	if got, _ := x.Lookup(ctx, "9990001014"); len(got) != 1 {
		t.Error("cancelled replace emptied the set")
	}
}
