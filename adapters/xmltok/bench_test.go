package xmltok

import (
	"bytes"
	"io"
	"os"
	"testing"

	"mig/internal/testenv"
)

// BenchmarkTokenizers reads the same documents through both paths, every
// token via Next, in one run: compare MB/s and allocs/op side by side (the
// ratio is the result; nothing here asserts a time).
//
//	go test -run '^$' -bench Tokenizers -benchmem ./adapters/xmltok/
func BenchmarkTokenizers(b *testing.B) {
	inputs := []struct{ name, path string }{
		{"GP2GP-9990001030", testenv.Testdata(b, "A99901", "9990001030.xml")},
		{"EMIS-9990002045", testenv.Testdata(b, "A99902", "9990002045.xml")},
		{"TPP-9990003041", testenv.Testdata(b, "A99903", "9990003041.xml")},
	}
	if _, err := os.Stat(testenv.ModuleRoot(b) + "/../shared/reference/gp2gp/samples/input/PWTP4.xml"); err == nil {
		inputs = append(inputs, struct{ name, path string }{"PWTP4", testenv.ModuleRoot(b) + "/../shared/reference/gp2gp/samples/input/PWTP4.xml"})
	}
	for _, in := range inputs {
		data, err := os.ReadFile(in.path)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range []struct {
			name string
			fast bool
		}{{"fast", true}, {"encoding-xml", false}} {
			b.Run(in.name+"/"+p.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					d := newDecoder(bytes.NewReader(data), Limits{}, p.fast)
					for {
						_, err := d.Next()
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
