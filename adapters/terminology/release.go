package terminology

import (
	"bufio"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"mig"
	"mig/adapters/record"
)

// SNOMED CT metadata concepts the loader reads (SNOMED CT Release File
// Specification; TRUD UK edition).
const (
	isA               = "116680003"          // |Is a (attribute)|
	synonymType       = "900000000000013009" // |Synonym (core metadata concept)|
	preferredAccept   = "900000000000548007" // |Preferred (foundation metadata concept)|
	RefsetUKClinical  = "999001261000000100" // NHS realm language reference set (clinical part)
	RefsetUKPharmacy  = "999000691000001104" // NHS realm language reference set (pharmacy part)
	RefsetGBEnglish   = "900000000000508004" // Great Britain English language reference set
	maxRF2Line        = 1 << 20              // a longer line is an error, not a silent cut
	maxTermBytes      = 4096
	noConcept         = int32(-1)
	maxReleaseConcept = 1<<31 - 2
)

// DefaultLanguageRefsets is the order in which language reference sets
// choose a concept's display when the configuration names none: the NHS
// realm's clinical part, then its pharmacy part (dm+d), then the
// international release's GB English.
var DefaultLanguageRefsets = []string{RefsetUKClinical, RefsetUKPharmacy, RefsetGBEnglish}

// RF2Files names the files of a SNOMED CT release in RF2 (Release Format
// 2). Use the Snapshot files; a UK edition has an international and a UK
// file of each kind, so each field takes several.
type RF2Files struct {
	Concepts        []string `json:"concepts"`        // sct2_Concept_Snapshot_*.txt
	Descriptions    []string `json:"descriptions"`    // sct2_Description_Snapshot-en_*.txt
	Relationships   []string `json:"relationships"`   // sct2_Relationship_Snapshot_*.txt (inferred IS-A)
	LanguageRefsets []string `json:"languageRefsets"` // der2_cRefset_LanguageSnapshot-en_*.txt
	// LanguageRefsetIDs are the language reference sets whose preferred
	// synonym is a concept's display, most wanted first (default
	// DefaultLanguageRefsets).
	LanguageRefsetIDs []string `json:"languageRefsetIds"`
}

// IsZero reports whether no release files are named.
func (f RF2Files) IsZero() bool {
	return len(f.Concepts) == 0 && len(f.Descriptions) == 0 && len(f.Relationships) == 0 && len(f.LanguageRefsets) == 0
}

// Release is a loaded SNOMED CT release: which concepts exist and are
// active, their IS-A hierarchy (transitively closed at load), each
// description's concept, and each active concept's display. It is
// read-only after LoadRelease and safe for concurrent use.
//
// Memory: concept ids are held once, as integers, and everything else by
// dense index: the transitive closure is one []int32 of every concept's
// sorted proper ancestors (a real release's closure is a few million
// pairs), descriptions are two sorted slices, and only displays are kept
// as text. BenchmarkLoadRelease measures it on a synthetic release of real
// size.
type Release struct {
	index   map[uint64]int32 // concept id -> dense index
	active  []bool
	display []string
	// ancestors of concept i: anc[ancStart[i]:ancStart[i+1]], sorted.
	ancStart []int32
	anc      []int32
	// descriptions, sorted by id
	descIDs     []uint64
	descConcept []uint64
}

// Len returns how many concepts and descriptions the release holds.
func (r *Release) Len() (concepts, descriptions int) {
	if r == nil {
		return 0, 0
	}
	return len(r.active), len(r.descIDs)
}

// AncestorPairs returns the size of the transitive closure (how many
// concept-ancestor pairs IsA answers from).
func (r *Release) AncestorPairs() int {
	if r == nil {
		return 0
	}
	return len(r.anc)
}

func parseID(s string) (uint64, bool) {
	if !record.ValidSCTID(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// lookup finds a concept's index. Every id in the index passed the SCTID
// check at load, so a query needs no check digit test of its own: digits
// without a leading zero that name a held id are that id.
func (r *Release) lookup(concept string) (int32, bool) {
	if r == nil || len(concept) < 6 || len(concept) > 18 || concept[0] == '0' {
		return noConcept, false
	}
	var id uint64
	for i := 0; i < len(concept); i++ {
		c := concept[i]
		if c < '0' || c > '9' {
			return noConcept, false
		}
		id = id*10 + uint64(c-'0')
	}
	i, ok := r.index[id]
	return i, ok
}

// Active reports whether concept is in the release and active.
func (r *Release) Active(concept string) bool {
	i, ok := r.lookup(concept)
	return ok && r.active[i]
}

// IsA reports whether concept is ancestor or one of its descendants over
// the active IS-A relationships, transitively. A concept the release does
// not hold is a descendant of nothing (but itself).
func (r *Release) IsA(concept, ancestor string) bool {
	if concept == ancestor {
		return concept != ""
	}
	c, ok := r.lookup(concept)
	if !ok {
		return false
	}
	a, ok := r.lookup(ancestor)
	if !ok {
		return false
	}
	_, found := slices.BinarySearch(r.anc[r.ancStart[c]:r.ancStart[c+1]], a)
	return found
}

// Ancestors returns the ids of concept's proper ancestors (nil for a
// concept the release does not hold). For tests and tools.
func (r *Release) Ancestors(concept string) []string {
	c, ok := r.lookup(concept)
	if !ok {
		return nil
	}
	ids := r.ids()
	var out []string
	for _, a := range r.anc[r.ancStart[c]:r.ancStart[c+1]] {
		out = append(out, strconv.FormatUint(ids[a], 10))
	}
	slices.Sort(out)
	return out
}

func (r *Release) ids() []uint64 {
	ids := make([]uint64, len(r.active))
	for id, i := range r.index {
		ids[i] = id
	}
	return ids
}

// Display returns the preferred term of an active concept in the
// configured language reference sets.
func (r *Release) Display(concept string) (string, bool) {
	i, ok := r.lookup(concept)
	if !ok || !r.active[i] || r.display[i] == "" {
		return "", false
	}
	return r.display[i], true
}

// ConceptOfDescription returns the concept a description id describes
// (active or inactive description).
func (r *Release) ConceptOfDescription(descID string) (string, bool) {
	if r == nil {
		return "", false
	}
	id, ok := parseID(descID)
	if !ok {
		return "", false
	}
	k, found := slices.BinarySearch(r.descIDs, id)
	if !found {
		return "", false
	}
	return strconv.FormatUint(r.descConcept[k], 10), true
}

// RF2 file kinds: the header each must carry (RF2 specification), and the
// fields the loader reads.
type rf2Kind int

const (
	rf2Concept rf2Kind = iota
	rf2Description
	rf2Relationship
	rf2Language
)

var rf2Headers = [...][]string{
	rf2Concept:      {"id", "effectiveTime", "active", "moduleId", "definitionStatusId"},
	rf2Description:  {"id", "effectiveTime", "active", "moduleId", "conceptId", "languageCode", "typeId", "term", "caseSignificanceId"},
	rf2Relationship: {"id", "effectiveTime", "active", "moduleId", "sourceId", "destinationId", "relationshipGroup", "typeId", "characteristicTypeId", "modifierId"},
	rf2Language:     {"id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId", "acceptabilityId"},
}

// rf2IDFields are the fields of each kind that must be SCTIDs (a language
// refset member's own id is a UUID).
var rf2IDFields = [...][]int{
	rf2Concept:      {0, 3, 4},
	rf2Description:  {0, 3, 4, 6, 8},
	rf2Relationship: {0, 3, 4, 5, 7, 8, 9},
	rf2Language:     {3, 4, 5, 6},
}

var rf2Names = [...]string{"concept", "description", "relationship", "language refset"}

// fileErr is the one shape of a loading error: EINVALID, the file's base
// name and the line, and a reason that quotes nothing from the file.
func fileErr(what, file string, line int, reason string) error {
	where := baseName(file)
	if line > 0 {
		where += " line " + strconv.Itoa(line)
	}
	return &mig.Error{Code: mig.EINVALID, Message: "terminology " + what + " " + where + ": " + reason}
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// parseRF2Line checks one data line of an RF2 file of kind k and returns
// its fields, or a content-free reason.
func parseRF2Line(k rf2Kind, line string) ([]string, string) {
	f := strings.Split(line, "\t")
	if len(f) != len(rf2Headers[k]) {
		return nil, "expected " + strconv.Itoa(len(rf2Headers[k])) + " tab-separated fields"
	}
	if len(f[1]) != 8 || !isDigits(f[1]) {
		return nil, "effectiveTime is not YYYYMMDD"
	}
	if f[2] != "0" && f[2] != "1" {
		return nil, "active is not 0 or 1"
	}
	for _, i := range rf2IDFields[k] {
		if !record.ValidSCTID(f[i]) {
			return nil, rf2Headers[k][i] + " is not a valid SCTID"
		}
	}
	switch k {
	case rf2Description:
		if !utf8.ValidString(f[7]) || len(f[7]) > maxTermBytes {
			return nil, "term is not valid UTF-8 of at most 4096 bytes"
		}
	case rf2Relationship:
		if !isDigits(f[6]) {
			return nil, "relationshipGroup is not a number"
		}
	case rf2Language:
		if len(f[0]) == 0 || len(f[0]) > 64 {
			return nil, "id is empty or too long"
		}
	}
	return f, ""
}

// readRF2 reads an RF2 file of kind k from r, calling fn with each data
// line's fields. name is the file's name for errors.
func readRF2(r io.Reader, name string, k rf2Kind, fn func(f []string) string) error {
	what := "SNOMED CT " + rf2Names[k] + " file"
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxRF2Line)
	if !sc.Scan() {
		if sc.Err() != nil {
			return fileErr(what, name, 1, "unreadable (line too long?)")
		}
		return fileErr(what, name, 0, "empty file")
	}
	hdr := strings.Split(strings.TrimPrefix(strings.TrimRight(sc.Text(), "\r"), "\ufeff"), "\t")
	if !slices.Equal(hdr, rf2Headers[k]) {
		return fileErr(what, name, 1, "header is not the RF2 "+rf2Names[k]+" header")
	}
	line := 1
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" {
			continue
		}
		f, reason := parseRF2Line(k, text)
		if reason == "" {
			reason = fn(f)
		}
		if reason != "" {
			return fileErr(what, name, line, reason)
		}
	}
	if sc.Err() != nil {
		return fileErr(what, name, line+1, "unreadable (line too long?)")
	}
	return nil
}

func eachFile(paths []string, what string, k rf2Kind, fn func(f []string) string) error {
	for _, p := range paths {
		fh, err := os.Open(p)
		if err != nil {
			return &mig.Error{Code: mig.EINVALID, Message: "terminology " + what + " " + baseName(p) + ": cannot open", Err: err}
		}
		err = readRF2(fh, p, k, fn)
		fh.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// releaseBuilder gathers a release's rows, then builds the Release.
type releaseBuilder struct {
	index    map[uint64]int32
	active   []bool
	eff      []uint32 // effective time of the concept row that stands
	parents  [][2]int32
	langRank map[uint64]uint8 // preferred description id -> rank of its refset (lower wins)
	refsets  map[uint64]uint8
	descs    []descRow
	display  []string
	dispRank []uint8
}

type descRow struct {
	id, concept uint64
	eff         uint32
}

func newReleaseBuilder(refsetIDs []string) *releaseBuilder {
	if len(refsetIDs) == 0 {
		refsetIDs = DefaultLanguageRefsets
	}
	b := &releaseBuilder{index: map[uint64]int32{}, langRank: map[uint64]uint8{}, refsets: map[uint64]uint8{}}
	for i, s := range refsetIDs {
		if id, ok := parseID(s); ok && i < 255 {
			if _, dup := b.refsets[id]; !dup {
				b.refsets[id] = uint8(i)
			}
		}
	}
	return b
}

func mustID(s string) uint64 { v, _ := strconv.ParseUint(s, 10, 64); return v }

func eff(s string) uint32 { v, _ := strconv.ParseUint(s, 10, 32); return uint32(v) }

// concept adds a concept row; of two rows for one concept the later
// effective time stands.
func (b *releaseBuilder) concept(f []string) string {
	if record.SCTPartition(f[0]) != '0' {
		return "id is not a concept id"
	}
	id := mustID(f[0])
	e := eff(f[1])
	if i, ok := b.index[id]; ok {
		if e >= b.eff[i] {
			b.active[i], b.eff[i] = f[2] == "1", e
		}
		return ""
	}
	if len(b.active) >= maxReleaseConcept {
		return "too many concepts"
	}
	b.index[id] = int32(len(b.active))
	b.active = append(b.active, f[2] == "1")
	b.eff = append(b.eff, e)
	return ""
}

func (b *releaseBuilder) relationship(f []string) string {
	if f[2] != "1" || f[7] != isA {
		return ""
	}
	src, ok1 := b.index[mustID(f[4])]
	dst, ok2 := b.index[mustID(f[5])]
	if !ok1 || !ok2 {
		return "" // a relationship outside the loaded concepts: not ours to judge
	}
	if src != dst {
		b.parents = append(b.parents, [2]int32{src, dst})
	}
	return ""
}

func (b *releaseBuilder) language(f []string) string {
	if f[2] != "1" || f[6] != preferredAccept {
		return ""
	}
	rank, ok := b.refsets[mustID(f[4])]
	if !ok {
		return ""
	}
	d := mustID(f[5])
	if old, seen := b.langRank[d]; !seen || rank < old {
		b.langRank[d] = rank
	}
	return ""
}

func (b *releaseBuilder) description(f []string) string {
	if record.SCTPartition(f[0]) != '1' {
		return "id is not a description id"
	}
	id, concept := mustID(f[0]), mustID(f[4])
	b.descs = append(b.descs, descRow{id: id, concept: concept, eff: eff(f[1])})
	if f[2] != "1" || f[6] != synonymType {
		return ""
	}
	rank, ok := b.langRank[id]
	if !ok {
		return ""
	}
	i, ok := b.index[concept]
	if !ok {
		return ""
	}
	if b.display == nil {
		b.display = make([]string, len(b.active))
		b.dispRank = make([]uint8, len(b.active))
		for j := range b.dispRank {
			b.dispRank[j] = 255
		}
	}
	if rank < b.dispRank[i] {
		b.display[i], b.dispRank[i] = strings.Clone(f[7]), rank
	}
	return ""
}

func (b *releaseBuilder) build() *Release {
	n := len(b.active)
	r := &Release{index: b.index, active: b.active, display: b.display}
	if r.display == nil {
		r.display = make([]string, n)
	}
	// Descriptions: sorted by id; of repeats the latest row stands.
	slices.SortStableFunc(b.descs, func(x, y descRow) int {
		switch {
		case x.id < y.id:
			return -1
		case x.id > y.id:
			return 1
		case x.eff < y.eff:
			return -1
		case x.eff > y.eff:
			return 1
		}
		return 0
	})
	r.descIDs = make([]uint64, 0, len(b.descs))
	r.descConcept = make([]uint64, 0, len(b.descs))
	for k, d := range b.descs {
		if k+1 < len(b.descs) && b.descs[k+1].id == d.id {
			continue
		}
		r.descIDs = append(r.descIDs, d.id)
		r.descConcept = append(r.descConcept, d.concept)
	}
	b.descs = nil
	r.ancStart, r.anc = closure(n, b.parents)
	b.parents = nil
	return r
}

// closure computes every concept's sorted proper ancestors from IS-A
// (child, parent) pairs, as one flat slice with offsets. A cycle (never in
// a real release) is broken where it is found, so a malformed file cannot
// hang the loader.
func closure(n int, edges [][2]int32) (start []int32, anc []int32) {
	// Parents in CSR form.
	pStart := make([]int32, n+1)
	for _, e := range edges {
		pStart[e[0]+1]++
	}
	for i := 0; i < n; i++ {
		pStart[i+1] += pStart[i]
	}
	par := make([]int32, len(edges))
	fill := slices.Clone(pStart[:n])
	for _, e := range edges {
		par[fill[e[0]]] = e[1]
		fill[e[0]]++
	}
	fill = nil

	lo := make([]int32, n) // offsets of each concept's list in anc, once done
	hi := make([]int32, n)
	state := make([]uint8, n) // 0 new, 1 in progress, 2 done
	var scratch []int32
	type frame struct{ node, next int32 }
	var stack []frame
	for root := 0; root < n; root++ {
		if state[root] != 0 {
			continue
		}
		stack = append(stack[:0], frame{int32(root), pStart[root]})
		state[root] = 1
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			v := top.node
			if top.next < pStart[v+1] {
				p := par[top.next]
				top.next++
				if state[p] == 0 {
					state[p] = 1
					stack = append(stack, frame{p, pStart[p]})
				}
				continue
			}
			// All parents done (or in progress: a cycle, skipped).
			scratch = scratch[:0]
			for k := pStart[v]; k < pStart[v+1]; k++ {
				p := par[k]
				if state[p] != 2 {
					continue
				}
				scratch = append(scratch, p)
				scratch = append(scratch, anc[lo[p]:hi[p]]...)
			}
			slices.Sort(scratch)
			scratch = slices.Compact(scratch)
			lo[v] = int32(len(anc))
			anc = append(anc, scratch...)
			hi[v] = int32(len(anc))
			state[v] = 2
			stack = stack[:len(stack)-1]
		}
	}
	// Lists were written in completion order; lay them out by index.
	start = make([]int32, n+1)
	for i := 0; i < n; i++ {
		start[i+1] = start[i] + (hi[i] - lo[i])
	}
	out := make([]int32, len(anc))
	for i := 0; i < n; i++ {
		copy(out[start[i]:start[i+1]], anc[lo[i]:hi[i]])
	}
	return start, out
}

// LoadRelease reads a SNOMED CT release's Snapshot files: concepts first,
// then IS-A relationships, the language reference sets, and descriptions.
// Errors are EINVALID and name the file and line, never content.
func LoadRelease(files RF2Files) (*Release, error) {
	if len(files.Concepts) == 0 {
		return nil, &mig.Error{Code: mig.EINVALID, Message: "terminology snomed: no concept file named"}
	}
	b := newReleaseBuilder(files.LanguageRefsetIDs)
	steps := []struct {
		paths []string
		k     rf2Kind
		fn    func([]string) string
	}{
		{files.Concepts, rf2Concept, b.concept},
		{files.Relationships, rf2Relationship, b.relationship},
		{files.LanguageRefsets, rf2Language, b.language},
		{files.Descriptions, rf2Description, b.description},
	}
	for _, s := range steps {
		if err := eachFile(s.paths, "SNOMED CT "+rf2Names[s.k]+" file", s.k, s.fn); err != nil {
			return nil, err
		}
	}
	b.langRank = nil
	return b.build(), nil
}
