package terminology

import (
	"bufio"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"mig"
	"mig/adapters/record"
)

// Rubrics holds the preferred rubric (term) of each Read v2 and CTV3 code.
//
// # Accepted format
//
// Text with one header row, fields separated by tabs (or, when the header
// has no tab, by "|", as TRUD's CTV3 files are), CRLF or LF line ends.
// Columns are found by header name, case-insensitive, in any order:
//
//	code       READCODE, READ_CODE, CTV3_CONCEPTID, CONCEPT_ID or CODE          required
//	term       TERM_198, TERM198, PREF_TERM_198, DESCRIPTION_LONG, then the    required
//	           60-character (TERM_60, TERM60, PREF_TERM_60, DESCRIPTION), then
//	           the 30-character (TERM_30, TERM30, PREF_TERM_30,
//	           DESCRIPTION_SHORT), then TERM or RUBRIC: the longest non-empty
//	           one on the row is used
//	preferred  TERMCODE or TERM_CODE (Read v2: "00" is the preferred term),    optional
//	           DESCRIPTION_TYPE, TERM_TYPE or CTV3_TERMTYPE (CTV3: "P")
//
// Of a code's rows, a preferred one wins over others; among equals the
// first stands. Without a preferred column, the first row of a code
// stands. A Read v2 code is kept in its five-character form. Files built
// from the TRUD releases (Read v2 Unified Corev2.all/Keyv2.all; CTV3
// Terms.v3 joined to Descrip.v3 on the term id) fit this shape once given
// a header row naming their columns.
type Rubrics struct {
	read, ctv3 map[string]rubric
}

type rubric struct {
	term      string
	preferred bool
}

// Len returns how many Read v2 and CTV3 codes have a rubric.
func (r *Rubrics) Len() (read, ctv3 int) {
	if r == nil {
		return 0, 0
	}
	return len(r.read), len(r.ctv3)
}

// Display returns the preferred rubric of code in system
// (record.SystemReadV2 or record.SystemCTV3).
func (r *Rubrics) Display(system, code string) (string, bool) {
	if r == nil {
		return "", false
	}
	var t map[string]rubric
	switch system {
	case record.SystemReadV2:
		t, code = r.read, record.ReadV2Base(code)
	case record.SystemCTV3:
		t = r.ctv3
	default:
		return "", false
	}
	rb, ok := t[code]
	return rb.term, ok && rb.term != ""
}

// LoadRubrics adds rubric files of system (record.SystemReadV2 or
// record.SystemCTV3) to r, which may be nil (a new Rubrics is returned).
// Errors are EINVALID and name the file and line, never content.
func LoadRubrics(r *Rubrics, system string, paths ...string) (*Rubrics, error) {
	if r == nil {
		r = &Rubrics{read: map[string]rubric{}, ctv3: map[string]rubric{}}
	}
	t := r.read
	switch system {
	case record.SystemReadV2:
	case record.SystemCTV3:
		t = r.ctv3
	default:
		return nil, &mig.Error{Code: mig.EINVALID, Message: "terminology rubrics: system must be Read v2 or CTV3"}
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, &mig.Error{Code: mig.EINVALID, Message: "terminology rubric file " + baseName(p) + ": cannot open", Err: err}
		}
		err = readRubrics(f, p, system, t)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

var rubricTermColumns = [][]string{
	{"TERM_198", "TERM198", "PREF_TERM_198", "DESCRIPTION_LONG"},
	{"TERM_60", "TERM60", "PREF_TERM_60", "DESCRIPTION"},
	{"TERM_30", "TERM30", "PREF_TERM_30", "DESCRIPTION_SHORT"},
	{"TERM", "RUBRIC"},
}

// readRubrics reads one rubric file into t.
func readRubrics(rd io.Reader, name, system string, t map[string]rubric) error {
	const what = "rubric file"
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), maxRF2Line)
	if !sc.Scan() {
		if sc.Err() != nil {
			return fileErr(what, name, 1, "unreadable (line too long?)")
		}
		return fileErr(what, name, 0, "empty file")
	}
	hdr := strings.TrimPrefix(strings.TrimRight(sc.Text(), "\r"), "\ufeff")
	sep := "\t"
	if !strings.Contains(hdr, "\t") && strings.Contains(hdr, "|") {
		sep = "|"
	}
	col := map[string]int{}
	for i, h := range strings.Split(hdr, sep) {
		col[strings.ToUpper(strings.TrimSpace(h))] = i
	}
	pick := func(names ...string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	code := pick("READCODE", "READ_CODE", "CTV3_CONCEPTID", "CONCEPT_ID", "CODE")
	var terms []int
	for _, names := range rubricTermColumns {
		if i := pick(names...); i >= 0 {
			terms = append(terms, i)
		}
	}
	termCode := pick("TERMCODE", "TERM_CODE")
	termType := pick("DESCRIPTION_TYPE", "TERM_TYPE", "CTV3_TERMTYPE")
	if code < 0 || len(terms) == 0 {
		return fileErr(what, name, 1, "header lacks a code or a term column")
	}
	line := 1
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" {
			continue
		}
		f := strings.Split(text, sep)
		get := func(i int) string {
			if i < 0 || i >= len(f) {
				return ""
			}
			return strings.TrimSpace(f[i])
		}
		c := get(code)
		if system == record.SystemReadV2 {
			c = record.ReadV2Base(c)
		}
		if !rubricCode(c) {
			return fileErr(what, name, line, "code is not a 5-character Read code")
		}
		term := ""
		for _, i := range terms {
			if s := get(i); len(s) > len(term) {
				term = s
			}
		}
		if term == "" {
			return fileErr(what, name, line, "no term")
		}
		if !utf8.ValidString(term) || len(term) > maxTermBytes {
			return fileErr(what, name, line, "term is not valid UTF-8 of at most 4096 bytes")
		}
		pref := termCode < 0 && termType < 0
		switch {
		case termCode >= 0:
			pref = get(termCode) == "00"
		case termType >= 0:
			pref = strings.EqualFold(get(termType), "P")
		}
		old, seen := t[c]
		if !seen || (pref && !old.preferred) {
			t[c] = rubric{term: strings.Clone(term), preferred: pref}
		}
	}
	if sc.Err() != nil {
		return fileErr(what, name, line+1, "unreadable (line too long?)")
	}
	return nil
}

// rubricCode reports whether s looks like a Read v2 or CTV3 code: five
// characters, letters, digits and dots.
func rubricCode(s string) bool {
	if len(s) != 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.') {
			return false
		}
	}
	return true
}
