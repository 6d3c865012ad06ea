package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
	"mig/fhir"
	"mig/internal/testenv"
)

// TestHostileExtracts: a hostile GP system. In chosen extracts of all three
// formats (the equivalence patient, the "every entry kind" one and the
// real-shapes one), every attribute and text node (terms, translations,
// originalText units, reference ranges, qualifiers, interpretations,
// author and organisation names, local codes, dosage, ids, dates, values,
// code attributes themselves) holds an attack-shaped sentence with a
// marker of its own. In strict and in filter mode, a clinician with
// consent to view asks for every view, $everything, every typed search and
// every resource by id, and for malformed variants of each extract. No
// planted sentence, marker or 12-character piece of one may appear in any
// response body or header, log line, AuditEvent, GP access notification or
// file the gateway wrote; the one exception is dosage-slot text in a
// prescription's dosage text and quantity-text extension.
//
// Per extract: a "terms and text" patient (every word slot planted, every
// entry still shown, so masked displays, dosage text and, in filter mode,
// the unplanted control term "Type 2 diabetes mellitus" can be seen), an
// "every slot" patient (all the adapter tolerates), the same terms patient
// outside the registration list (its extract demographics stand: the one
// known leak, pinned by demographicsFromExtractLeak), a variant for each
// slot shape the adapter refuses, the consent-to-share entry planted, and
// two malformed documents inside an element named by a marker.
func TestHostileExtracts(t *testing.T) {
	start := time.Now()
	testdata := filepath.Join(testenv.ModuleRoot(t), "testdata")
	root := t.TempDir()
	b := buildHostile(t, testdata, root)
	t.Logf("planted %d slots (%d shapes) in %d extracts of 3 formats: %d tolerated (%d planted with every entry still shown), %d rejected by the adapter, %d change identity or share consent, %d dosage slots; %d patients served (%s)",
		b.Planted, len(b.SlotKeys), 9, b.Tolerated, b.TextSlots, b.Rejected, b.Access, b.Dosage, len(b.Patients), time.Since(start).Round(time.Millisecond))
	for _, l := range b.InProcessLeaks {
		t.Errorf("adapter error holds planted text: %s", l)
	}

	hostileSelfCheck(t, b, root)

	for _, mode := range []string{TermsStrict, TermsFilter} {
		t.Run(mode, func(t *testing.T) { hostileMode(t, b, root, mode) })
	}
	t.Logf("TestHostileExtracts took %s", time.Since(start).Round(time.Millisecond))
}

// hostileSelfCheck: the finder sees every planted sentence in the hostile
// extracts as the adapters will read them, every sentence fails the term
// filter, dosage pieces are their own, and a deliberately leaked sentence
// is caught where it must be and let pass only on dosage paths.
func hostileSelfCheck(t *testing.T, b *hostileBuild, root string) {
	t.Helper()
	for _, p := range b.Finder.planted {
		if fhir.TermLooksCoded(p.Sentence) {
			t.Fatalf("planted sentence %q passes the term filter: filter mode would show it by design", p.Sentence)
		}
	}
	// Every planted sentence is in the extracts written.
	var all strings.Builder
	for _, p := range []string{"A99901", "A99902", "A99903"} {
		ents, _ := os.ReadDir(filepath.Join(root, p))
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".xml") {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(root, p, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			all.WriteString(xmlValues(t, raw))
			all.WriteByte('\n')
		}
	}
	text := normalise(all.String())
	missing := 0
	for _, w := range b.Written {
		if !strings.Contains(text, normalise(w)) {
			missing++
			if missing < 5 {
				t.Errorf("planted sentence not found in the hostile extracts: %q", w)
			}
		}
	}
	if hits, _ := b.Finder.find(text); len(hits) < len(b.Written)/2 || len(b.Written) < b.Planted/2 {
		t.Fatalf("the finder sees %d planted sentences in the extracts, %d were written (%d planted)", len(hits), len(b.Written), b.Planted)
	}
	// No dosage piece is shared with another sentence.
	dosage := 0
	for _, d := range b.Finder.dosage {
		if d {
			dosage++
		}
	}
	if len(b.Finder.shared) > 0 {
		t.Fatalf("dosage pieces shared with non-dosage sentences: %q", b.Finder.shared)
	}
	if b.Dosage == 0 || dosage == 0 {
		t.Fatal("no dosage slot was planted: the exception is untested")
	}
	// A leak is caught; dosage text passes only on dosage paths.
	var term, dose string
	for _, p := range b.Finder.planted {
		if p.Dosage && dose == "" {
			dose = p.Sentence
		}
		if !p.Dosage && term == "" {
			term = p.Sentence
		}
	}
	mk := func(display, dosageText, ext string) []byte {
		r := map[string]any{"resourceType": "Bundle", "entry": []any{
			map[string]any{"resource": map[string]any{"resourceType": "MedicationRequest", "id": "x",
				"medicationCodeableConcept": map[string]any{"coding": []any{map[string]any{"code": "1", "display": display}}},
				"dosageInstruction":         []any{map[string]any{"text": dosageText}},
				"dispenseRequest":           map[string]any{"extension": []any{map[string]any{"url": fhir.ExtMedicationQuantityText, "valueString": ext}}}}}}}
		j, _ := json.Marshal(r)
		return j
	}
	for _, c := range []struct {
		name              string
		display, dose, qt string
		want              int
	}{
		{"clean", "Metformin", "one daily", "56 tablet", 0},
		{"dosage text on dosage paths", "Metformin", dose, dose, 0},
		{"term in a display", term, "one daily", "56 tablet", 1},
		{"term in dosage text", "Metformin", term, "56 tablet", 1},
		{"dosage text in a display", dose, "one daily", "56 tablet", 1},
		{"a 12-character piece", "Metformin " + term[3:15], "one daily", "", 1},
		{"changed case and spacing", strings.ToUpper(strings.ReplaceAll(term, " ", "\n  ")), "", "", 1},
	} {
		if got := b.Finder.scanJSON("self-check", mk(c.display, c.dose, c.qt)); (len(got) > 0) != (c.want > 0) {
			t.Fatalf("self-check %q: %d leaks found, want %d: %v", c.name, len(got), c.want, got)
		}
	}
	if len(b.Finder.scanText("log", "", `{"level":"error","error":"`+dose+`"}`)) == 0 {
		t.Fatal("self-check: dosage text in a log line is not caught")
	}
}

// xmlValues returns every attribute value and text of an XML document.
func xmlValues(t *testing.T, raw []byte) string {
	x, err := parseXDoc("", raw, func(string, string) bool { return false })
	if err != nil {
		// A malformed variant: its text as written.
		return string(raw)
	}
	var sb strings.Builder
	for _, s := range x.slots {
		sb.WriteString(s.Orig)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// hostileMode runs every request against a gateway in one term mode and
// checks everything it emitted.
func hostileMode(t *testing.T, b *hostileBuild, root, mode string) {
	start := time.Now()
	g := startGateway(t, func(m *Main) {
		m.Testdata = root
		if mode == TermsStrict {
			// As a deployment's configuration file says it.
			if err := json.Unmarshal([]byte(`{"terms":"strict"}`), &m.Config); err != nil {
				t.Fatal(err)
			}
		}
	})
	if got := g.m.Config.Terms; got != mode {
		t.Fatalf("gateway runs terms %q, want %q", got, mode)
	}
	clin := g.token("hx-clin", "R8000", "RX999")
	type exchange struct {
		label string
		r     *response
	}
	var ex []exchange
	unregistered, unregisteredReq := false, map[string]bool{}
	get := func(label, path string) *response {
		r := g.do(http.MethodGet, path, clin, nil)
		ex = append(ex, exchange{label + " GET " + path, r})
		if unregistered {
			unregisteredReq[label+" GET "+path] = true
		}
		return r
	}
	// Bundle pages: follow next links.
	getAll := func(label, path string) []*response {
		var out []*response
		for i := 0; path != "" && i < 50; i++ {
			r := get(label, path)
			out = append(out, r)
			path = ""
			var bundle struct {
				Link []struct{ Relation, URL string } `json:"link"`
			}
			if r.Status == 200 && json.Unmarshal(r.Body, &bundle) == nil {
				for _, l := range bundle.Link {
					if l.Relation == "next" {
						if u, err := url.Parse(l.URL); err == nil {
							path = u.RequestURI()
						}
					}
				}
			}
		}
		return out
	}
	types := []string{"Condition", "MedicationStatement", "MedicationRequest", "AllergyIntolerance", "Observation",
		"Procedure", "Immunization", "Flag", "Encounter", "ServiceRequest"}
	counts := map[string]int{}
	var masked, controlShown, resourcesRead int
	for _, p := range b.Patients {
		unregistered = p.Unregistered
		r := g.recordConsent(clin, p.NHS, consentGiven)
		ex = append(ex, exchange{p.Label + " consent", r})
		if r.Status != 201 && p.OK {
			t.Fatalf("%s: consent to view: HTTP %d %s", p.Label, r.Status, truncate(r.Body))
		}
		pid := g.ids.Patient(p.NHS)
		if !p.OK {
			// Error paths: the answer is an OperationOutcome.
			for _, path := range []string{"/fhir/Patient/" + pid + "/$everything", "/fhir/Patient/" + pid + "/$mig-view?view=summary",
				"/fhir/Condition?patient=" + pid, "/fhir/Patient/" + pid} {
				r := get(p.Label, path)
				counts["error"]++
				if r.Status < 400 && p.Access {
					continue // identity or consent changed: answered or refused, either way scanned
				}
				if r.Status < 400 {
					t.Errorf("%s: %s answered HTTP %d, want an error", p.Label, path, r.Status)
					continue
				}
				r.outcome(t)
			}
			continue
		}
		sr := g.searchPatient(clin, p.NHS)
		ex = append(ex, exchange{p.Label + " Patient/_search", sr})
		unregisteredReq[p.Label+" Patient/_search"] = p.Unregistered
		counts["search"]++
		if sr.Status != 200 {
			t.Errorf("%s: Patient search HTTP %d %s", p.Label, sr.Status, truncate(sr.Body))
		}
		var ids [][2]string
		for _, r := range getAll(p.Label, "/fhir/Patient/"+pid+"/$everything?_count=50") {
			counts["$everything"]++
			if r.Status != 200 {
				t.Fatalf("%s: $everything HTTP %d %s", p.Label, r.Status, truncate(r.Body))
			}
			var bundle struct {
				Entry []struct {
					Resource struct {
						ResourceType string `json:"resourceType"`
						ID           string `json:"id"`
					} `json:"resource"`
					Search struct{ Mode string } `json:"search"`
				} `json:"entry"`
			}
			if err := json.Unmarshal(r.Body, &bundle); err != nil {
				t.Fatal(err)
			}
			for _, e := range bundle.Entry {
				if e.Search.Mode != "outcome" && e.Resource.ID != "" {
					ids = append(ids, [2]string{e.Resource.ResourceType, e.Resource.ID})
				}
			}
			masked += bytes.Count(r.Body, []byte(`"masked"`))
			if p.Control && bytes.Contains(bytes.ToLower(r.Body), []byte("diabetes mellitus")) {
				controlShown++
			}
		}
		if p.Text && len(ids) < 3 {
			t.Errorf("%s: $everything holds %d resources: too few to prove anything", p.Label, len(ids))
		}
		for _, v := range record.AllViews() {
			getAll(p.Label, "/fhir/Patient/"+pid+"/$mig-view?view="+string(v))
			counts["$mig-view"]++
		}
		if p.Unregistered {
			// Its clinical content is the registered copy's, searched and
			// read there; here the Patient is what differs.
			get(p.Label, "/fhir/Patient/"+pid)
			counts["read"]++
			continue
		}
		for _, typ := range types {
			getAll(p.Label, "/fhir/"+typ+"?patient="+pid)
			counts["search"]++
		}
		r = g.do(http.MethodPost, "/fhir/Observation/_search", clin, url.Values{"patient": {pid}})
		ex = append(ex, exchange{p.Label + " POST Observation/_search", r})
		counts["search"]++
		for _, id := range ids {
			if !p.Text {
				break // reads by id of the terms-and-text patients
			}
			r := get(p.Label, "/fhir/"+id[0]+"/"+id[1])
			counts["read"]++
			resourcesRead++
			if r.Status != 200 {
				t.Errorf("%s: read %s/%s HTTP %d %s", p.Label, id[0], id[1], r.Status, truncate(r.Body))
			}
		}
	}

	// The term policy shows and masks as it says.
	if masked == 0 {
		t.Errorf("no display is marked data-absent masked: planted terms were not suppressed as the policy says")
	}
	switch mode {
	case TermsFilter:
		if controlShown < 3 {
			t.Errorf("filter mode: the control term (diabetes mellitus) shows in %d of 3 formats' $everything: a real term must survive the filter", controlShown)
		}
	case TermsStrict:
		if controlShown > 0 {
			t.Errorf("strict mode: an extract term (diabetes mellitus) shows: strict mode must show no extract term")
		}
		if !strings.Contains(g.log.String(), "strict mode and no terminology") {
			t.Errorf("strict mode without a terminology: migd did not warn at start")
		}
	}

	// Every answer was audited; wait for the GP access notifications.
	time.Sleep(200 * time.Millisecond)
	deadline := time.Now().Add(15 * time.Second)
	prev := -1
	for time.Now().Before(deadline) {
		n := 0
		for _, raw := range dataFiles(t, g.m.Config.DataDir, ".ndjson") {
			n += len(raw)
		}
		if n == prev && n > 0 {
			break
		}
		prev = n
		time.Sleep(500 * time.Millisecond)
	}

	var leaks []leak
	allowed := b.Finder.allowed
	for _, e := range ex {
		for k, vs := range e.r.Header {
			for _, v := range vs {
				leaks = append(leaks, b.Finder.scanText("response header", k, v)...)
			}
		}
		for _, l := range b.Finder.scanJSON("response", e.r.Body) {
			l.Req = e.label
			leaks = append(leaks, l)
		}
	}
	// Planted dosage text does show, where it may: the scan sees what the
	// gateway renders from the hostile extracts.
	if b.Finder.allowed == allowed {
		t.Errorf("no planted dosage text showed in a dosage path: the scan saw nothing the adapters read from the planted slots")
	}
	dosageShown := b.Finder.allowed - allowed
	lines := strings.Split(strings.TrimSpace(g.log.String()), "\n")
	for _, l := range lines {
		leaks = append(leaks, b.Finder.scanJSON("log line", []byte(l))...)
	}
	evs := g.eventsSince(0)
	if len(evs) < len(ex) {
		t.Errorf("%d AuditEvents for %d requests", len(evs), len(ex))
	}
	for _, e := range evs {
		for _, l := range b.Finder.scanJSON("AuditEvent", e.Body) {
			l.Req = e.ID
			leaks = append(leaks, l)
		}
	}
	notes := 0
	for path, raw := range dataFiles(t, g.m.Config.DataDir, ".ndjson") {
		notes += bytes.Count(raw, []byte("\n"))
		leaks = append(leaks, b.Finder.scanText("GP access notification", filepath.Base(path), string(raw))...)
	}
	if notes == 0 {
		t.Errorf("no GP access notification was written: the notification check proves nothing")
	}
	// Every file the gateway wrote (audit store, consents, locator,
	// outbox), as bytes.
	for path, raw := range dataFiles(t, g.m.Config.DataDir, "") {
		if strings.HasSuffix(path, ".ndjson") {
			continue
		}
		leaks = append(leaks, b.Finder.scanText("data file", filepath.Base(path), string(raw))...)
	}

	// The one channel known to leak (reported on issue 12, not yet
	// fixed): a patient the demographics source does not know keeps the
	// extract's own demographics (adapters.Reader: "the extract's own
	// demographics stand"), and the EMIS and TPP extracts' name and
	// address parts reach Patient.name and Patient.address unvetted. It is pinned here: only there, only for
	// those patients; when it is fixed, this test says so.
	known, knownAt := 0, map[string]bool{}
	var rest []leak
	for _, l := range leaks {
		if l.Where == "response" && unregisteredReq[l.Req] && (strings.HasPrefix(l.Path, "Patient.address") || strings.HasPrefix(l.Path, "Patient.name")) {
			known++
			knownAt[l.Path+" <- "+shapeOf(l.Hit.Planted.Where)] = true
			continue
		}
		rest = append(rest, l)
	}
	if demographicsFromExtractLeak && known == 0 {
		t.Errorf("the extract's own name and address no longer reach Patient for a patient outside the registration list: the known leak is fixed; set demographicsFromExtractLeak false")
	}
	if !demographicsFromExtractLeak {
		rest = leaks
	} else if mode == TermsStrict {
		at := make([]string, 0, len(knownAt))
		for k := range knownAt {
			at = append(at, k)
		}
		sort.Strings(at)
		t.Logf("known leak (demographics of a patient outside the registration list), %d places:\n  %s", len(at), strings.Join(at, "\n  "))
	}
	leaks = rest

	// One line per distinct place and slot shape.
	seen := map[string]bool{}
	var report []string
	for _, l := range leaks {
		k := l.Where + "|" + l.Path + "|" + shapeOf(l.Hit.Planted.Where)
		if l.Hit.Planted.Where == "" {
			k = l.Where + "|" + l.Path
		}
		if !seen[k] {
			seen[k] = true
			report = append(report, l.String())
		}
	}
	sort.Strings(report)
	for i, r := range report {
		if i == 60 {
			t.Errorf("... and %d more", len(report)-60)
			break
		}
		t.Errorf("planted text leaked: %s", r)
	}
	t.Logf("%s: %d patients, %d requests (%v), %d resources read by id, %d log lines, %d AuditEvents, %d notifications, %d masked displays, %d planted dosage texts shown on dosage paths; %d in the known demographics leak; %d other leaks in %d places; %s",
		mode, len(b.Patients), len(ex), counts, resourcesRead, len(lines), len(evs), notes, masked, dosageShown, known, len(leaks), len(report), time.Since(start).Round(time.Millisecond))
}

// demographicsFromExtractLeak: whether the extract's demographics of a
// patient the demographics source does not know may reach Patient unvetted
// (see hostileMode). They did; since names and addresses are kept only in
// the shape of a name or an address (adapters/record/text.go), planted
// sentences do not, and any leak there fails the test.
const demographicsFromExtractLeak = false

// shapeOf drops the extract from a plantedText.Where, leaving format and
// slot shape.
func shapeOf(where string) string {
	f := strings.Fields(where)
	if len(f) >= 3 {
		return f[0] + " " + strings.Join(f[2:], " ")
	}
	return where
}

// dataFiles reads every file under dir whose name ends with suffix.
func dataFiles(t *testing.T, dir, suffix string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, suffix) {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			out[p] = b
		}
		return nil
	})
	return out
}
