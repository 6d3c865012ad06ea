package tpp

import (
	"bytes"
	"errors"
	"testing"

	"mig"
)

// FuzzParse: any input either parses or fails with a content-free
// *mig.Error of the malformed-extract kind; it never panics.
func FuzzParse(f *testing.F) {
	for _, nhs := range extracts {
		if nhs == "9990003041" {
			continue // large; the others cover the same shapes
		}
		f.Add(readExtract(f, nhs))
	}
	f.Add([]byte(doc(event("E", `Method="Telephone"`, cc("CTV3", "2469.", "<Value>1</Value>")+med("325278007", "<RepeatIssue/>")))))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := Parse(bytes.NewReader(b), opts(""))
		if err != nil {
			var me *mig.Error
			if !errors.As(err, &me) || me.Issue != mig.IssueMalformedExtract || (me.Code != mig.EINVALID && me.Code != mig.ETOOLARGE) {
				t.Fatalf("unexpected error %T %v", err, err)
			}
			return
		}
		if rec.Format != Format {
			t.Fatalf("format %q", rec.Format)
		}
		_ = dump(rec, true)
	})
}

func BenchmarkParse(b *testing.B) {
	src := readExtract(b, "9990003041")
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(src), opts("9990003041")); err != nil {
			b.Fatal(err)
		}
	}
}
