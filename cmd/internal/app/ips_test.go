package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
	"mig/consent"
	"mig/fhir"
	"mig/fhir/ips"
	"mig/internal/testenv"
)

// The International Patient Summary ($summary) end to end: the IPS
// document's structure (ips.Check: our validators do not know the IPS
// profiles), R4 validity, the access rules and audit of $everything,
// sections only for the agreement's views, withheld items said in the
// document, and no free text in it.

func summaryPath(g *gateway, nhs string) string {
	return "/fhir/Patient/" + g.ids.Patient(nhs) + "/$summary"
}

// summaryOK checks a 200 $summary: valid R4, the IPS structure, and every
// resource in it one that $everything (the same request's whole record)
// also gives, so the summary shows nothing the requester may not see.
func summaryOK(t *testing.T, g *gateway, tok, nhs string, r *response) *ips.Checked {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("$summary HTTP %d: %s", r.Status, truncate(r.Body))
	}
	validR4(t, "$summary", r.Body)
	chk, err := ips.Check(r.Body)
	if err != nil {
		t.Fatalf("$summary structure: %v", err)
	}
	ev := g.do(http.MethodGet, "/fhir/Patient/"+g.ids.Patient(nhs)+"/$everything?_count=500", tok, nil)
	seen := map[string]bool{}
	for _, m := range parseBundle(t, ev).matches(t) {
		seen[m.ResourceType+"/"+m.ID] = true
	}
	var doc bundle
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, e := range doc.Entry {
		var res resource
		if err := json.Unmarshal(e.Resource, &res); err != nil {
			t.Fatal(err)
		}
		if res.ResourceType == "Composition" || res.ResourceType == "Device" {
			continue
		}
		if !seen[res.ResourceType+"/"+res.ID] {
			t.Errorf("$summary holds %s/%s, which $everything does not give this requester", res.ResourceType, res.ID)
		}
	}
	return chk
}

// codesIn lists the codes of a section's resources.
func codesIn(t *testing.T, s ips.CheckedSection) string {
	t.Helper()
	var out []string
	for _, raw := range s.Resources {
		var v struct {
			Code, VaccineCode, MedicationCodeableConcept struct {
				Coding []struct{ Code string } `json:"coding"`
			}
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		for _, c := range append(append(v.Code.Coding, v.VaccineCode.Coding...), v.MedicationCodeableConcept.Coding...) {
			out = append(out, c.Code)
		}
	}
	return strings.Join(out, " ")
}

// TestSummaryDemo: $summary for every synthetic patient of the demo
// practices, asked by the demo clinician (the emergency department of the
// demo agreement, consent to view recorded): answered exactly as
// $everything is (same status, same refusal), each answer audited once;
// every summary valid R4 with the IPS structure and every section (the
// demo agreement covers every view); the equivalence story's items in
// their sections in all three formats.
func TestSummaryDemo(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("clin-ips", "R8000", "RX999")
	_, nhsList := patientNames(t, filepath.Join(testenv.ModuleRoot(t), "testdata"))
	served, refused := 0, 0
	for _, nhs := range nhsList {
		t.Run(nhs, func(t *testing.T) {
			g.recordConsent(clin, nhs, consentGiven)
			ev := g.do(http.MethodGet, "/fhir/Patient/"+g.ids.Patient(nhs)+"/$everything", clin, nil)
			w := want{status: ev.Status}
			if ev.Status >= 400 {
				w.code, _ = ev.outcome(t)
			}
			seq := g.auditSeq()
			r := g.call(t, w, func() *response { return g.do(http.MethodGet, summaryPath(g, nhs), clin, nil) })
			evs := g.eventsSince(seq)
			if evs[0].NHSNumber != nhs || evs[0].Subtype != "operation" {
				t.Errorf("AuditEvent names patient %q subtype %q", evs[0].NHSNumber, evs[0].Subtype)
			}
			if r.Status != http.StatusOK {
				refused++
				if len(evs[0].Released) > 0 {
					t.Errorf("a refused $summary records released resources %v", evs[0].Released)
				}
				return
			}
			served++
			chk := summaryOK(t, g, clin, nhs, r)
			if evs[0].Released["Composition"] != 1 || evs[0].Released["Patient"] != 1 {
				t.Errorf("AuditEvent released %v, want the Composition and the Patient counted", evs[0].Released)
			}
			if len(chk.Codes) != len(ips.Sections) {
				t.Errorf("sections %v: the demo agreement covers every view", chk.Codes)
			}
			for code, s := range chk.Sections {
				if s.EmptyReason == "withheld" && strings.Contains(s.Div, ips.NotCoveredText) {
					t.Errorf("section %s says it is not covered, under an agreement covering every view", code)
				}
			}
		})
	}
	if served < 10 || refused < 4 {
		t.Errorf("%d summaries served, %d refused: the demo practices should give both", served, refused)
	}
	// The equivalence story, in every format.
	for _, nhs := range []string{gp2gpConsent, emisConsent, tppConsent} {
		chk := summaryOK(t, g, clin, nhs, g.do(http.MethodGet, summaryPath(g, nhs), clin, nil))
		for code, item := range map[string]string{"11450-4": "44054006", "48765-2": "91936005", "10160-0": "325278007",
			"11369-6": "86198006", "30954-2": "999791000000106", "8716-3": "85354-9"} {
			if got := codesIn(t, chk.Sections[code]); !strings.Contains(got, item) {
				t.Errorf("%s: section %s lacks %s: %s", nhs, code, item, got)
			}
		}
	}
}

// TestSummaryAgreementViews: under agreements covering only some views,
// only their sections are there (the three required ones say they are not
// shared), and nothing of another view is in the document.
func TestSummaryAgreementViews(t *testing.T) {
	g := startGateway(t, nil)
	admin := g.adminToken()
	all := []string{"A99901", "A99902", "A99903"}
	for _, tc := range []struct {
		org      string
		views    []record.View
		sections []string
		withheld []string
		absent   []string
	}{
		{"PX998", []record.View{record.ViewSummary}, []string{"10160-0", "48765-2", "11450-4"}, nil,
			[]string{"Immunization", "Observation", "Encounter", "Procedure"}},
		{"PY997", []record.View{record.ViewInvestigations, record.ViewExamination}, []string{"10160-0", "48765-2", "11450-4", "30954-2", "8716-3"},
			[]string{"10160-0", "48765-2", "11450-4"}, []string{"Condition", "AllergyIntolerance", "MedicationStatement", "MedicationRequest", "Immunization"}},
		{"PZ996", []record.View{record.ViewProcedures}, []string{"10160-0", "48765-2", "11450-4", "11369-6"},
			[]string{"10160-0", "48765-2", "11450-4"}, []string{"Condition", "AllergyIntolerance", "MedicationStatement", "Observation"}},
	} {
		t.Run(tc.org, func(t *testing.T) {
			a := consent.Agreement{ID: "ips-" + tc.org, Title: "partial views", Providers: all, Recipients: []string{tc.org},
				Views: tc.views, ValidFrom: time.Now().Add(-time.Hour).UTC(), Status: consent.AgreementActive}
			g.call(t, want{status: 201}, func() *response { return g.do(http.MethodPost, "/admin/agreements", admin, a) })
			tok := g.token("clin-"+tc.org, "R8000", tc.org)
			for _, nhs := range []string{gp2gpConsent, emisConsent, tppConsent, "9990001014"} {
				g.call(t, want{status: 201}, func() *response { return g.recordConsent(tok, nhs, consentGiven) })
				r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, summaryPath(g, nhs), tok, nil) })
				chk := summaryOK(t, g, tok, nhs, r)
				if strings.Join(chk.Codes, " ") != strings.Join(tc.sections, " ") {
					t.Fatalf("%s: sections %v, want %v", nhs, chk.Codes, tc.sections)
				}
				for _, code := range tc.withheld {
					if s := chk.Sections[code]; s.EmptyReason != "withheld" || len(s.Entries) > 0 || !strings.Contains(s.Div, ips.NotCoveredText) {
						t.Errorf("%s: uncovered section %s: emptyReason %q, %d entries", nhs, code, s.EmptyReason, len(s.Entries))
					}
				}
				for _, typ := range tc.absent {
					if chk.Types[typ] > 0 {
						t.Errorf("%s: %d %s outside the agreement's views", nhs, chk.Types[typ], typ)
					}
				}
			}
		})
	}
}

// TestSummaryWithheld: what the rules withheld is said in the document
// (never what): confidential items in every section and on the
// Composition, sensitive ones on the Composition and only in a section that
// would list them, their codes nowhere.
func TestSummaryWithheld(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("clin-ips-withheld", "R8000", "RX999")
	get := func(nhs string) (*response, *ips.Checked) {
		g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, nhs, consentGiven) })
		r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, summaryPath(g, nhs), clin, nil) })
		return r, summaryOK(t, g, clin, nhs, r)
	}
	t.Run("confidential", func(t *testing.T) {
		_, chk := get("9990001022")
		if !strings.Contains(chk.Narratives[0], fhir.WithheldMessage) {
			t.Errorf("the Composition does not say something was withheld: %s", chk.Narratives[0])
		}
		for code, s := range chk.Sections {
			if !strings.Contains(s.Div, ips.ConfidentialText) || len(s.Notes) == 0 {
				t.Errorf("section %s does not say confidential items were left out", code)
			}
		}
	})
	t.Run("sensitive", func(t *testing.T) {
		r, chk := get("9990001065")
		for _, code := range []string{"15628003", "57797005", `"A98..`, `"7E070`} {
			if bytes.Contains(r.Body, []byte(code)) {
				t.Errorf("withheld code %s is in the summary", code)
			}
		}
		if !strings.Contains(chk.Narratives[0], fhir.WithheldMessage) {
			t.Errorf("the Composition does not say something was withheld")
		}
		said := 0
		for _, s := range chk.Sections {
			for _, n := range s.Notes {
				if n == ips.SomeWithheldText || n == ips.AllWithheldText {
					said++
				}
			}
			if strings.Contains(s.Div, ips.ConfidentialText) {
				t.Errorf("section %s says confidential items were left out of a record that had none", s.Title)
			}
		}
		// The sensitive items are a diagnosis and a procedure, which no
		// section lists: no section may claim one of its own was withheld
		// (fhir/ips's tests cover a section that does).
		if said > 0 {
			t.Errorf("%d sections say an item of theirs was withheld: the withheld items are of no section's kind", said)
		}
	})
	t.Run("nothing withheld", func(t *testing.T) {
		_, chk := get(gp2gpConsent)
		if strings.Contains(chk.Narratives[0], fhir.WithheldMessage) || bytes.Contains(chk.Composition, []byte(ips.ExtNote+`","valueAnnotation":{"text":"`+fhir.WithheldMessage)) {
			t.Errorf("the Composition says something was withheld from a record with nothing withheld")
		}
		for code, s := range chk.Sections {
			if len(s.Notes) > 0 || s.EmptyReason == "withheld" {
				t.Errorf("section %s says something was withheld: %v", code, s.Notes)
			}
		}
	})
}

// TestSummaryRequests: parameters, refusals, HEAD and emergency access, each
// audited once with the outcome its status implies.
func TestSummaryRequests(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("clin-ips-req", "R8000", "RX999")
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, tppConsent, consentGiven) })
	path := summaryPath(g, tppConsent)
	for _, tc := range []struct {
		name string
		fn   func() *response
		want want
	}{
		{"profile", func() *response { return g.do(http.MethodGet, path+"?profile="+ips.ProfileBundle, clin, nil) }, want{status: 200}},
		{"other profile", func() *response { return g.do(http.MethodGet, path+"?profile=http://example.org/x", clin, nil) }, want{400, "INVALID_PARAMETER"}},
		{"identifier", func() *response {
			return g.do(http.MethodGet, path+"?identifier=https://fhir.nhs.uk/Id/nhs-number|"+tppConsent, clin, nil)
		}, want{400, "INVALID_PARAMETER"}},
		{"profile twice", func() *response {
			return g.do(http.MethodGet, path+"?profile="+ips.ProfileBundle+"&profile="+ips.ProfileBundle, clin, nil)
		}, want{400, "INVALID_PARAMETER"}},
		{"no token", func() *response { return g.do(http.MethodGet, path, "", nil) }, want{status: 401}},
		{"not a clinician", func() *response { return g.do(http.MethodGet, path, g.token("clin-ips-req", "R0001", "RX999"), nil) }, want{403, "ACCESS_DENIED"}},
		{"no consent to view", func() *response { return g.do(http.MethodGet, summaryPath(g, emisConsent), clin, nil) }, want{403, "NO_VIEW_CONSENT"}},
		{"unknown patient", func() *response { return g.do(http.MethodGet, summaryPath(g, unknownNHS(t)), clin, nil) }, want{404, "PATIENT_NOT_FOUND"}},
		{"not a patient id", func() *response { return g.do(http.MethodGet, "/fhir/Patient/nonsense/$summary", clin, nil) }, want{404, "PATIENT_NOT_FOUND"}},
		{"xml", func() *response { return g.do(http.MethodGet, path+"?_format=xml", clin, nil) }, want{status: 406}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.call(t, tc.want, tc.fn)
			if r.Status == 200 {
				summaryOK(t, g, clin, tppConsent, r)
			}
		})
	}
	t.Run("HEAD", func(t *testing.T) {
		r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodHead, path, clin, nil) })
		if len(r.Body) != 0 {
			t.Errorf("HEAD answered a body of %d bytes", len(r.Body))
		}
	})
	t.Run("emergency", func(t *testing.T) {
		g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, gp2gpConsent, consentEmergency) })
		seq := g.auditSeq()
		r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, summaryPath(g, gp2gpConsent), clin, nil) })
		summaryOK(t, g, clin, gp2gpConsent, r)
		if r.Header.Get("X-MIG-Emergency-Access") != "BTG" || !g.eventsSince(seq)[0].Emergency {
			t.Errorf("emergency access is not marked on the answer and its AuditEvent")
		}
		var doc bundle
		json.Unmarshal(r.Body, &doc)
		for _, e := range doc.Entry {
			var res resource
			json.Unmarshal(e.Resource, &res)
			btg := false
			for _, s := range res.Meta.Security {
				btg = btg || s.Code == "BTG"
			}
			if !btg {
				t.Errorf("%s in an emergency summary is not labelled BTG", res.ResourceType)
			}
		}
	})
}

// TestSummaryHostile: the hostile extracts (hostile_build_test.go: every
// text and attribute slot planted with an attack sentence and its marker)
// served as summaries in strict and filter mode: no planted sentence, or
// piece of one, in any summary (narratives included), its headers, the log
// or the AuditEvents; dosage text only on the entries' dosage paths.
func TestSummaryHostile(t *testing.T) {
	if testing.Short() {
		t.Skip("plants every slot of nine extracts")
	}
	testdata := filepath.Join(testenv.ModuleRoot(t), "testdata")
	root := t.TempDir()
	b := buildHostile(t, testdata, root)
	for _, mode := range []string{TermsStrict, TermsFilter} {
		t.Run(mode, func(t *testing.T) {
			g := startGateway(t, func(m *Main) {
				m.Testdata = root
				if mode == TermsStrict {
					if err := json.Unmarshal([]byte(`{"terms":"strict"}`), &m.Config); err != nil {
						t.Fatal(err)
					}
				}
			})
			clin := g.token("hx-ips", "R8000", "RX999")
			seq := g.auditSeq()
			allowed := b.Finder.allowed
			var leaks []leak
			served, narratives := 0, 0
			for _, p := range b.Patients {
				g.recordConsent(clin, p.NHS, consentGiven)
				r := g.do(http.MethodGet, summaryPath(g, p.NHS), clin, nil)
				switch {
				case p.OK && r.Status != http.StatusOK:
					t.Errorf("%s: $summary HTTP %d %s", p.Label, r.Status, truncate(r.Body))
				case !p.OK && !p.Access && r.Status < 400:
					t.Errorf("%s: a malformed extract's $summary answered HTTP %d", p.Label, r.Status)
				case r.Status == http.StatusOK:
					served++
					validR4(t, p.Label+" $summary", r.Body)
					chk, err := ips.Check(r.Body)
					if err != nil {
						t.Errorf("%s: %v", p.Label, err)
					} else {
						narratives += len(chk.Narratives)
					}
				}
				for k, vs := range r.Header {
					for _, v := range vs {
						leaks = append(leaks, b.Finder.scanText("response header", k, v)...)
					}
				}
				for _, l := range b.Finder.scanJSON("response", r.Body) {
					l.Req = p.Label
					leaks = append(leaks, l)
				}
			}
			for _, l := range strings.Split(strings.TrimSpace(g.log.String()), "\n") {
				leaks = append(leaks, b.Finder.scanJSON("log line", []byte(l))...)
			}
			for _, e := range g.eventsSince(seq) {
				leaks = append(leaks, b.Finder.scanJSON("AuditEvent", e.Body)...)
			}
			seen := map[string]bool{}
			var report []string
			for _, l := range leaks {
				if k := l.Where + "|" + l.Path; !seen[k] {
					seen[k] = true
					report = append(report, l.String())
				}
			}
			sort.Strings(report)
			for _, r := range report {
				t.Errorf("planted text leaked: %s", r)
			}
			// Planted dosage text does show, on the medication entries'
			// dosage paths: the scan sees what the summaries render from
			// the planted slots.
			if b.Finder.allowed == allowed {
				t.Errorf("no planted dosage text showed in a summary's dosage path: the scan saw nothing planted")
			}
			if served < 6 || narratives < 6*served {
				t.Errorf("%d summaries served with %d narratives: too few to prove anything", served, narratives)
			}
			t.Logf("%s: %d patients, %d summaries served, %d narratives scanned, %d leaks", mode, len(b.Patients), served, narratives, len(leaks))
		})
	}
}
