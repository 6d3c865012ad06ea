package fhir

import (
	"bytes"
	"errors"
	"regexp"
	"testing"

	"mig"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func mustIDs(t testing.TB, b byte) *IDs {
	t.Helper()
	x, err := NewIDs(testKey(b))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestNewIDsKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewIDs(make([]byte, n)); mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("key of %d bytes: got %v, want EINVALID", n, err)
		}
	}
}

func TestIDsStableDistinctDecodable(t *testing.T) {
	x, y := mustIDs(t, 1), mustIDs(t, 2)
	seen := map[string]string{}
	for _, nhs := range []string{"9990001006", "9990002002", "0000000000", "9999999999"} {
		for _, typ := range ResourceTypes() {
			for _, src := range []string{"", "a", "b", "E1", "{UUID-1}"} {
				id := x.Resource(nhs, typ, src)
				if !hexID.MatchString(id) {
					t.Fatalf("id %q is not 32 lower-case hex characters", id)
				}
				if again := x.Resource(nhs, typ, src); again != id {
					t.Fatalf("id not stable: %s then %s", id, again)
				}
				key := nhs + "|" + typ + "|" + src
				if prev, dup := seen[id]; dup {
					t.Fatalf("%s and %s share id %s", prev, key, id)
				}
				seen[id] = key
				if y.Resource(nhs, typ, src) == id {
					t.Fatalf("two keys give the same id for %s", key)
				}
				gotNHS, gotType, err := x.Decode(id)
				if err != nil || gotNHS != nhs || gotType != typ {
					t.Fatalf("Decode(%s) = %q, %q, %v; want %s, %s", id, gotNHS, gotType, err, nhs, typ)
				}
				if _, _, err := y.Decode(id); mig.ErrorCode(err) != mig.ENOTFOUND {
					t.Fatalf("other key decoded %s: %v", id, err)
				}
			}
		}
	}
	if x.Patient("9990001006") != x.Resource("9990001006", "Patient", "") {
		t.Error("Patient id differs from Resource(nhs, Patient, \"\")")
	}
}

func TestIDsRejectBadInput(t *testing.T) {
	x := mustIDs(t, 1)
	if got := x.Resource("999000100", "Condition", "a"); got != "" {
		t.Errorf("short NHS number gave %q", got)
	}
	if got := x.Resource("99900010x6", "Condition", "a"); got != "" {
		t.Errorf("non-digit NHS number gave %q", got)
	}
	if got := x.Resource("9990001006", "Basic", "a"); got != "" {
		t.Errorf("unknown type gave %q", got)
	}
	id := x.Resource("9990001006", "Condition", "a")
	bad := []string{"", "abc", id[:31], id + "0", "zz" + id[2:], string(bytes.ToUpper([]byte(id)))}
	// Every single-character change must be refused.
	for i := 0; i < len(id); i++ {
		b := []byte(id)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		bad = append(bad, string(b))
	}
	for _, s := range bad {
		_, _, err := x.Decode(s)
		var me *mig.Error
		if !errors.As(err, &me) || me.Code != mig.ENOTFOUND {
			t.Errorf("Decode(%q) = %v, want *mig.Error ENOTFOUND", s, err)
		}
	}
}
