// Package terminology loads the terminologies a deployment holds (Config,
// Open, Terminology): Read v2 / CTV3 -> SNOMED CT maps (this file), Read v2
// and CTV3 rubrics (rubrics.go), a SNOMED CT release in RF2 (release.go)
// and dm+d names (dmd.go), and fills a parsed record's translations.
//
// The map loader adds SNOMED CT translations to Read v2 and CTV3 codes
// from the NHS's own map tables (TRUD "NHS Data Migration" release,
// Mapping Tables/Updated/Clinically Assured): rcsctmap2_uk_*.txt (Read v2
// -> SNOMED CT) and ctv3sctmap2_uk_*.txt (CTV3 -> SNOMED CT). The gateway
// ships no map; the deployment points Load at the files.
//
// # Accepted format
//
// Tab-separated text, one header row, CRLF or LF line ends. Columns are
// found by header name (case-insensitive), in any order; others are
// ignored:
//
//	source code   ReadCode or V2_CONCEPTID (a Read v2 file), CTV3_CONCEPTID (a CTV3 file)  required
//	target        ConceptId or SCT_CONCEPTID                                              required
//	assured       IS_ASSURED or ISASSURED: 1 = clinically assured                         required
//	status        MapStatus or MAPSTATUS: 1 = active, 0 = inactive                        required
//	map id        MapId or MAPID: rows sharing one are versions of one map                optional
//	effective     EffectiveDate or EFFECTIVEDATE (YYYYMMDD or YYYY-MM-DD)                 optional
//	term          TermCode (Read v2, "00" = preferred term) or CTV3_TERMTYPE ("P" = preferred)  optional
//
// Of the rows sharing a map id, the one with the latest effective date
// stands. Only active, assured maps are used. Where a code has several,
// maps through its preferred term win; if the maps left still point at
// more than one SNOMED concept the code is ambiguous and gets none.
package terminology

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mig"
	"mig/adapters/record"
)

// Map holds Read v2 -> SNOMED CT and CTV3 -> SNOMED CT maps.
type Map struct {
	read, ctv3 map[string]string
}

// Len returns how many Read v2 and CTV3 codes have a map.
func (m *Map) Len() (read, ctv3 int) { return len(m.read), len(m.ctv3) }

// Lookup returns the SNOMED CT concept id mapped from code in system
// (record.SystemReadV2 or record.SystemCTV3). A 7-character Read v2 code
// (code plus 2-digit term code, as GP2GP writes it) is looked up by its
// first five characters.
func (m *Map) Lookup(system, code string) (string, bool) {
	var t map[string]string
	switch system {
	case record.SystemReadV2:
		t = m.read
		if len(code) == 7 {
			code = code[:5]
		}
	case record.SystemCTV3:
		t = m.ctv3
	default:
		return "", false
	}
	id, ok := t[code]
	return id, ok
}

// Fill adds a SNOMED CT coding (code only: the map carries no term we
// show) to every concept of rec that has a Read v2 or CTV3 coding with a
// map but no SNOMED CT code: entry codes, allergy substances and
// reactions, referral specialties, coded interpretations and
// blood-pressure halves. It returns how many concepts it filled.
// (Terminology.Fill does this and more: use it when other parts are
// loaded.)
func (m *Map) Fill(rec *record.Record) int {
	if m == nil || rec == nil {
		return 0
	}
	n := 0
	for i := range rec.Entries {
		for _, c := range entryConcepts(&rec.Entries[i]) {
			if m.fill(c) {
				n++
			}
		}
	}
	return n
}

func (m *Map) fill(c *record.Concept) bool {
	if c.IsZero() {
		return false
	}
	for _, cd := range c.Codings {
		if cd.System == record.SystemSNOMED && cd.Code != "" {
			return false // a SNOMED CT code already (a description id alone is not one)
		}
	}
	for _, sys := range []string{record.SystemReadV2, record.SystemCTV3} {
		if cd, ok := c.Find(sys); ok {
			if id, ok := m.Lookup(sys, cd.Code); ok {
				c.Codings = append(c.Codings, record.Coding{System: record.SystemSNOMED, Code: id})
				return true
			}
		}
	}
	return false
}

// row is one usable line of a map file.
type row struct {
	code, concept string
	assured       bool
	active        bool
	preferred     bool
	effective     string // YYYYMMDD
}

// Load reads map files (each a Read v2 or a CTV3 file, told apart by its
// header). Errors are EINVALID and name the file and line, never content.
func Load(paths ...string) (*Map, error) {
	m := &Map{read: map[string]string{}, ctv3: map[string]string{}}
	for _, p := range paths {
		system, rows, err := loadFile(p)
		if err != nil {
			return nil, err
		}
		t := m.read
		if system == record.SystemCTV3 {
			t = m.ctv3
		}
		resolve(rows, t)
	}
	return m, nil
}

func loadErr(path string, line int, format string, args ...any) error {
	where := filepath.Base(path)
	if line > 0 {
		where = fmt.Sprintf("%s line %d", where, line)
	}
	return mig.Errorf(mig.EINVALID, "terminology map %s: %s", where, fmt.Sprintf(format, args...))
}

func loadFile(path string) (string, map[string]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, &mig.Error{Code: mig.EINVALID, Message: "terminology map " + filepath.Base(path) + ": cannot open", Err: err}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		return "", nil, loadErr(path, 0, "empty file")
	}
	col := map[string]int{}
	for i, h := range strings.Split(strings.TrimPrefix(strings.TrimRight(sc.Text(), "\r"), "\ufeff"), "\t") {
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
	system := record.SystemReadV2
	src := pick("READCODE", "V2_CONCEPTID")
	if src < 0 {
		system, src = record.SystemCTV3, pick("CTV3_CONCEPTID")
	}
	dst := pick("CONCEPTID", "SCT_CONCEPTID")
	assured := pick("IS_ASSURED", "ISASSURED")
	status := pick("MAPSTATUS")
	if src < 0 || dst < 0 || assured < 0 || status < 0 {
		return "", nil, loadErr(path, 1, "header lacks a source code, target concept, assured or status column")
	}
	mapID := pick("MAPID")
	eff := pick("EFFECTIVEDATE")
	termCode, termType := pick("TERMCODE"), pick("CTV3_TERMTYPE")

	rows := map[string]row{}
	line := 1
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" {
			continue
		}
		f := strings.Split(text, "\t")
		get := func(i int) string {
			if i < 0 || i >= len(f) {
				return ""
			}
			return strings.TrimSpace(f[i])
		}
		r := row{code: get(src), concept: get(dst), assured: get(assured) == "1", active: get(status) == "1",
			effective: strings.ReplaceAll(get(eff), "-", "")}
		if r.code == "" || r.concept == "" || get(status) == "" || get(assured) == "" {
			return "", nil, loadErr(path, line, "missing field")
		}
		if !isDigits(r.concept) || len(r.concept) < 6 || len(r.concept) > 18 {
			return "", nil, loadErr(path, line, "target is not a SNOMED CT identifier")
		}
		switch {
		case termCode >= 0:
			r.preferred = get(termCode) == "00"
		case termType >= 0:
			r.preferred = strings.EqualFold(get(termType), "P")
		}
		key := get(mapID)
		if key == "" {
			key = fmt.Sprintf("line:%d", line)
		}
		if old, ok := rows[key]; !ok || r.effective >= old.effective {
			rows[key] = r
		}
	}
	if err := sc.Err(); err != nil {
		return "", nil, loadErr(path, line+1, "unreadable (line too long?)")
	}
	return system, rows, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// resolve adds to t the one concept each code maps to (see package doc).
func resolve(rows map[string]row, t map[string]string) {
	type cand struct {
		preferred bool
		concepts  map[string]bool
	}
	by := map[string]*cand{}
	for _, r := range rows {
		if !r.active || !r.assured {
			continue
		}
		c := by[r.code]
		if c == nil {
			c = &cand{concepts: map[string]bool{}}
			by[r.code] = c
		}
		switch {
		case r.preferred && !c.preferred:
			c.preferred = true
			c.concepts = map[string]bool{r.concept: true}
		case r.preferred == c.preferred:
			c.concepts[r.concept] = true
		}
	}
	for code, c := range by {
		if len(c.concepts) != 1 {
			delete(t, code) // ambiguous, also against an earlier file
			continue
		}
		for id := range c.concepts {
			t[code] = id
		}
	}
}
