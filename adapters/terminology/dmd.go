package terminology

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"mig"
	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// DMD holds the names of dm+d medicines: virtual therapeutic moieties
// (VTM), virtual medicinal products (VMP) and actual medicinal products
// (AMP), by their SNOMED CT concept id (dm+d ids are SNOMED CT ids).
//
// # Accepted format
//
// The dm+d XML files of the NHSBSA release on TRUD, as published: f_vtm2
// (VTM elements with VTMID and NM), f_vmp2 (VMP elements with VPID and NM)
// and f_amp2 (AMP elements with APID and NM), in any order and any number
// (a file's kind is told by the elements it holds). Each product element is
// read on its own with adapters/xmltok (streaming, so a 100 MB AMP file
// costs no more memory than its names), and an INVALID flag of 1 does not
// drop a name: old records carry invalidated codes. We chose the published
// XML over a converted table so that a deployment loads TRUD's files as
// they come, with no conversion step to get wrong; the loader reads only
// the id and the name.
type DMD struct {
	names map[uint64]string
}

// Len returns how many medicines have a name.
func (d *DMD) Len() int {
	if d == nil {
		return 0
	}
	return len(d.names)
}

// Name returns the dm+d name of a VTM, VMP or AMP.
func (d *DMD) Name(code string) (string, bool) {
	if d == nil {
		return "", false
	}
	id, ok := parseID(code)
	if !ok {
		return "", false
	}
	n, ok := d.names[id]
	return n, ok
}

// dmdLimits bound a dm+d file: the real AMP file is around 100 MB.
var dmdLimits = xmltok.Limits{MaxBytes: 4 << 30, MaxDepth: 16, MaxElements: 1 << 30}

// dmdProducts are the product elements read, with their id element.
var dmdProducts = map[string]string{"VTM": "VTMID", "VMP": "VPID", "AMP": "APID"}

// LoadDMD adds dm+d XML files to d, which may be nil (a new DMD is
// returned). Errors are EINVALID and name the file and line, never content.
func LoadDMD(d *DMD, paths ...string) (*DMD, error) {
	if d == nil {
		d = &DMD{names: map[uint64]string{}}
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, &mig.Error{Code: mig.EINVALID, Message: "terminology dm+d file " + baseName(p) + ": cannot open", Err: err}
		}
		err = readDMD(f, p, dmdLimits, d.names)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

// readDMD reads one dm+d XML document into names.
func readDMD(r io.Reader, name string, lim xmltok.Limits, names map[uint64]string) error {
	const what = "dm+d file"
	dec := xmltok.NewDecoder(r, lim)
	for {
		tok, err := dec.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var xe *xmltok.Error
			if errors.As(err, &xe) {
				// The element path comes from the file: only the line and
				// the content-free reason are told.
				return fileErr(what, name, xe.Line, xe.Reason)
			}
			return fileErr(what, name, dec.Line(), "unreadable")
		}
		if tok.Kind != xmltok.Start {
			continue
		}
		idElem, ok := dmdProducts[tok.Local]
		if !ok {
			continue
		}
		n, err := dec.ReadNode(tok)
		if err != nil {
			var xe *xmltok.Error
			if errors.As(err, &xe) {
				return fileErr(what, name, xe.Line, xe.Reason)
			}
			return fileErr(what, name, dec.Line(), "unreadable")
		}
		idNode, nmNode := n.Child(idElem), n.Child("NM")
		if idNode == nil || nmNode == nil {
			return fileErr(what, name, n.Line, tok.Local+" lacks "+idElem+" or NM")
		}
		id, ok := parseID(idNode.Text)
		if !ok || record.SCTPartition(idNode.Text) != '0' {
			return fileErr(what, name, idNode.Line, idElem+" is not a SNOMED CT concept id")
		}
		nm := strings.TrimSpace(nmNode.Text)
		if nm == "" || !utf8.ValidString(nm) || len(nm) > maxTermBytes {
			return fileErr(what, name, nmNode.Line, "NM is empty, not UTF-8 or longer than "+strconv.Itoa(maxTermBytes)+" bytes")
		}
		names[id] = nm
	}
}
