package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"mig/adapters/record"
)

// These are the REST behaviour tests of fhir/rest, run against the whole
// gateway: fhir/rest cannot import cmd/internal/app (Go's internal rule),
// and a real chain, audit store and live sources are what they test.

// bundle is the part of a searchset Bundle the tests read.
type bundle struct {
	ResourceType string `json:"resourceType"`
	Total        *int   `json:"total"`
	Link         []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Search   struct {
			Mode string `json:"mode"`
		} `json:"search"`
	} `json:"entry"`
}

// resource is the part of any resource the tests read.
type resource struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         struct {
		Security []struct {
			System string `json:"system"`
			Code   string `json:"code"`
		} `json:"security"`
	} `json:"meta"`
	Category json.RawMessage `json:"category"`
}

func (b *bundle) link(rel string) string {
	for _, l := range b.Link {
		if l.Relation == rel {
			return l.URL
		}
	}
	return ""
}

// validR4 checks a body with google/fhir's validating R4 unmarshaller (a
// Bundle's entries are validated with it).
func validR4(t *testing.T, what string, body []byte) {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Unmarshal(body); err != nil {
		t.Errorf("%s is not valid FHIR R4: %v", what, err)
	}
}

func parseBundle(t *testing.T, r *response) *bundle {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("HTTP %d: %s", r.Status, truncate(r.Body))
	}
	var b bundle
	if err := json.Unmarshal(r.Body, &b); err != nil || b.ResourceType != "Bundle" {
		t.Fatalf("not a Bundle: %s", truncate(r.Body))
	}
	return &b
}

// matches returns the match-mode resources of a bundle.
func (b *bundle) matches(t *testing.T) []resource {
	t.Helper()
	var out []resource
	for _, e := range b.Entry {
		if e.Search.Mode == "outcome" {
			continue
		}
		var r resource
		if err := json.Unmarshal(e.Resource, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestREST(t *testing.T) {
	g := startGateway(t, nil)
	tok := g.token("clin-rest", "R8000", "RX999")
	for _, nhs := range []string{tppConsent, tppConsent2, emisConsent, "9990002010", gp2gpConsent} {
		if r := g.recordConsent(tok, nhs, consentGiven); r.Status != 201 {
			t.Fatalf("consent %s: HTTP %d %s", nhs, r.Status, truncate(r.Body))
		}
	}
	pid := g.ids.Patient(tppConsent2)

	t.Run("metadata", func(t *testing.T) {
		r := g.do(http.MethodGet, "/fhir/metadata", "", nil)
		if r.Status != 200 {
			t.Fatalf("HTTP %d", r.Status)
		}
		validR4(t, "CapabilityStatement", r.Body)
		var cs struct {
			ResourceType string `json:"resourceType"`
			FHIRVersion  string `json:"fhirVersion"`
			Rest         []struct {
				Resource []struct {
					Type string `json:"type"`
				} `json:"resource"`
			} `json:"rest"`
		}
		if err := json.Unmarshal(r.Body, &cs); err != nil || cs.ResourceType != "CapabilityStatement" || len(cs.Rest) == 0 {
			t.Fatalf("not a CapabilityStatement: %s", truncate(r.Body))
		}
		if !strings.HasPrefix(cs.FHIRVersion, "4.0") {
			t.Errorf("fhirVersion %q", cs.FHIRVersion)
		}
		listed := map[string]bool{}
		for _, res := range cs.Rest[0].Resource {
			listed[res.Type] = true
		}
		for _, typ := range append(typeNamesForTest(), "Consent", "Contract", "AuditEvent") {
			if !listed[typ] {
				t.Errorf("CapabilityStatement does not list %s", typ)
			}
		}
	})

	t.Run("writes are refused", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{http.MethodPut, "/fhir/Patient/" + pid},
			{http.MethodDelete, "/fhir/Condition/abc"},
			{http.MethodPatch, "/fhir/Observation/abc"},
			{http.MethodPost, "/fhir/Patient"},
			{http.MethodPost, "/fhir/Condition"},
			{http.MethodPut, "/fhir/Consent/abc"},
		} {
			r := g.call(t, want{405, ""}, func() *response { return g.do(c.method, c.path, tok, []byte(`{"resourceType":"Patient"}`)) })
			if _, diag := r.outcome(t); !strings.Contains(diag, "read-only") {
				t.Errorf("%s %s: diagnostics %q", c.method, c.path, diag)
			}
		}
	})

	t.Run("unknown type or id", func(t *testing.T) {
		g.call(t, want{404, ""}, func() *response { return g.do(http.MethodGet, "/fhir/Medication?patient="+pid, tok, nil) })
		g.call(t, want{404, ""}, func() *response { return g.do(http.MethodGet, "/fhir/Foo/abc", tok, nil) })
		g.call(t, want{404, ""}, func() *response { return g.do(http.MethodGet, "/fhir/Condition/not-an-id", tok, nil) })
		g.call(t, want{404, ""}, func() *response { return g.do(http.MethodGet, "/fhir/Condition/"+pid, tok, nil) }) // a Patient id
		g.call(t, want{404, ""}, func() *response { return g.do(http.MethodGet, "/fhir/Patient/"+pid+"/$nonsense", tok, nil) })
	})

	t.Run("bad parameters", func(t *testing.T) {
		for _, c := range []struct{ query, name string }{
			{"/fhir/Condition?patient=" + pid + "&bogus=1", "bogus"},
			{"/fhir/Condition?patient=" + pid + "&_count=0", "_count"},
			{"/fhir/Condition?patient=" + pid + "&_count=x", "_count"},
			{"/fhir/Condition?patient=" + pid + "&onset-date=2020-13", "onset-date"},
			{"/fhir/Condition?patient=" + pid + "&clinical-status=maybe", "clinical-status"},
			{"/fhir/Observation?patient=" + pid + "&category=blood", "category"},
			{"/fhir/Condition", "patient"},
			{"/fhir/Patient?identifier=123", "identifier"},
			{"/fhir/Patient/" + pid + "/$mig-view?view=gossip", "view"},
			{"/fhir/Patient/" + pid + "/$mig-view?view=problems&_page=forged", "_page"},
		} {
			r := g.call(t, want{400, ""}, func() *response { return g.do(http.MethodGet, c.query, tok, nil) })
			if _, diag := r.outcome(t); !strings.Contains(diag, c.name) {
				t.Errorf("%s: diagnostics %q do not name %s", c.query, diag, c.name)
			}
		}
	})

	t.Run("XML is not acceptable", func(t *testing.T) {
		g.call(t, want{406, ""}, func() *response {
			return g.do(http.MethodGet, "/fhir/Condition?patient="+pid+"&_format=xml", tok, nil)
		})
		g.call(t, want{406, ""}, func() *response {
			return g.do(http.MethodGet, "/fhir/Condition?patient="+pid, tok, nil, "Accept", "application/fhir+xml")
		})
		if r := g.do(http.MethodGet, "/fhir/metadata?_format=xml", "", nil); r.Status != 406 {
			t.Errorf("metadata as XML: HTTP %d, want 406", r.Status)
		}
	})

	t.Run("paging", func(t *testing.T) {
		all := parseBundle(t, g.do(http.MethodGet, "/fhir/Observation?patient="+pid+"&_count=500", tok, nil))
		total := len(all.matches(t))
		if total < 5 {
			t.Fatalf("only %d Observations for %s: paging is not exercised", total, tppConsent2)
		}
		seen := map[string]bool{}
		next := g.m.URL + "/fhir/Observation?patient=" + pid + "&_count=2"
		pages := 0
		var second string
		for next != "" {
			var b *bundle
			g.call(t, want{status: 200}, func() *response {
				r := doURL(t, g.http, http.MethodGet, next, tok, nil)
				b = parseBundle(t, r)
				return r
			})
			pages++
			if pages == 2 {
				second = next
			}
			if b.Total == nil || *b.Total != total {
				t.Fatalf("page %d: total %v, want %d", pages, b.Total, total)
			}
			ms := b.matches(t)
			if len(ms) == 0 || len(ms) > 2 {
				t.Fatalf("page %d holds %d resources", pages, len(ms))
			}
			for _, m := range ms {
				if seen[m.ID] {
					t.Fatalf("page %d repeats %s", pages, m.ID)
				}
				seen[m.ID] = true
			}
			next = b.link("next")
			if pages > total {
				t.Fatal("paging does not end")
			}
		}
		if len(seen) != total {
			t.Errorf("paging walked %d resources, want %d", len(seen), total)
		}
		if second == "" {
			t.Fatal("no second page")
		}
		u, _ := url.Parse(second)
		q := u.Query()
		page := q.Get("_page")
		tampered := []byte(page)
		tampered[len(tampered)-1] ^= 1
		if tampered[len(tampered)-1] == page[len(page)-1] {
			t.Fatal("could not tamper")
		}
		middle := []byte(page)
		middle[3] = map[bool]byte{true: 'B', false: 'A'}[middle[3] == 'A']
		for _, bad := range []url.Values{
			func() url.Values { v := url.Values{}; copyValues(v, q); v.Set("_page", string(tampered)); return v }(),
			func() url.Values { v := url.Values{}; copyValues(v, q); v.Set("_page", string(middle)); return v }(),
			func() url.Values { v := url.Values{}; copyValues(v, q); v.Set("_count", "3"); return v }(), // cursor bound to _count=2
		} {
			u.RawQuery = bad.Encode()
			r := g.call(t, want{400, ""}, func() *response { return doURL(t, g.http, http.MethodGet, u.String(), tok, nil) })
			if _, diag := r.outcome(t); !strings.Contains(diag, "_page") {
				t.Errorf("diagnostics %q do not name _page", diag)
			}
		}
	})

	t.Run("POST _search keeps the NHS number out of links", func(t *testing.T) {
		r := g.call(t, want{status: 200}, func() *response { return g.searchPatient(tok, tppConsent2) })
		b := parseBundle(t, r)
		if ms := b.matches(t); len(ms) != 1 || ms[0].ResourceType != "Patient" || ms[0].ID != pid {
			t.Fatalf("POST _search found %+v", ms)
		}
		if len(b.Link) == 0 {
			t.Fatal("no self link")
		}
		for _, l := range b.Link {
			if strings.Contains(l.URL, tppConsent2) {
				t.Errorf("link %s carries the NHS number", l.URL)
			}
		}
		for _, e := range b.Entry {
			if strings.Contains(e.FullURL, tppConsent2) {
				t.Errorf("fullUrl %s carries the NHS number", e.FullURL)
			}
		}
		// A birthdate that does not match finds nothing.
		r = g.do(http.MethodPost, "/fhir/Patient/_search", tok, url.Values{
			"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + tppConsent2}, "birthdate": {"1901-01-01"}})
		if ms := parseBundle(t, r).matches(t); len(ms) != 0 {
			t.Errorf("wrong birthdate still found %d", len(ms))
		}
	})

	t.Run("views hold only their resources", func(t *testing.T) {
		allowed := map[record.View]func(r resource) bool{
			record.ViewProblems: func(r resource) bool {
				return r.ResourceType == "Condition" && strings.Contains(string(r.Category), "problem-list-item")
			},
			record.ViewDiagnoses: func(r resource) bool {
				return r.ResourceType == "Condition" && strings.Contains(string(r.Category), "encounter-diagnosis")
			},
			record.ViewMedication: func(r resource) bool {
				return r.ResourceType == "MedicationRequest" || r.ResourceType == "MedicationStatement"
			},
			record.ViewRisks:      func(r resource) bool { return r.ResourceType == "Flag" },
			record.ViewProcedures: func(r resource) bool { return r.ResourceType == "Procedure" || r.ResourceType == "Immunization" },
			record.ViewInvestigations: func(r resource) bool {
				return r.ResourceType == "Observation" && !strings.Contains(string(r.Category), "vital-signs")
			},
			record.ViewExamination: func(r resource) bool {
				return r.ResourceType == "Observation" && strings.Contains(string(r.Category), "vital-signs")
			},
			record.ViewEvents:       func(r resource) bool { return r.ResourceType == "Encounter" || r.ResourceType == "ServiceRequest" },
			record.ViewDemographics: func(r resource) bool { return false },
			record.ViewSummary:      func(r resource) bool { return r.ResourceType != "Consent" && r.ResourceType != "AuditEvent" },
		}
		for _, nhs := range []string{tppConsent2, "9990002010"} {
			everything := map[string]bool{}
			for _, m := range parseBundle(t, g.do(http.MethodGet, "/fhir/Patient/"+g.ids.Patient(nhs)+"/$everything?_count=500", tok, nil)).matches(t) {
				everything[m.ResourceType+"/"+m.ID] = true
			}
			for _, v := range record.AllViews() {
				r := g.call(t, want{status: 200}, func() *response { return g.view(tok, nhs, string(v)+"&_count=500") })
				validR4(t, nhs+" "+string(v), r.Body)
				ms := parseBundle(t, r).matches(t)
				patients, others := 0, 0
				for _, m := range ms {
					if m.ResourceType == "Patient" {
						patients++
						continue
					}
					others++
					if !allowed[v](m) {
						t.Errorf("%s view %s holds a %s (%s)", nhs, v, m.ResourceType, m.Category)
					}
					if !everything[m.ResourceType+"/"+m.ID] {
						t.Errorf("%s view %s holds %s/%s that $everything does not", nhs, v, m.ResourceType, m.ID)
					}
				}
				if patients != 1 {
					t.Errorf("%s view %s holds %d Patients, want 1", nhs, v, patients)
				}
				if v != record.ViewDemographics && others == 0 {
					t.Errorf("%s view %s is empty: every kind is in this patient's record", nhs, v)
				}
			}
		}
	})

	t.Run("every answer is valid R4", func(t *testing.T) {
		for _, nhs := range []string{tppConsent, tppConsent2, emisConsent, "9990002010", gp2gpConsent} {
			id := g.ids.Patient(nhs)
			r := g.do(http.MethodGet, "/fhir/Patient/"+id+"/$everything?_count=500", tok, nil)
			validR4(t, nhs+" $everything", r.Body)
			types := map[string]bool{}
			for _, m := range parseBundle(t, r).matches(t) {
				types[m.ResourceType] = true
			}
			for typ := range types {
				if typ == "Patient" {
					continue
				}
				r := g.do(http.MethodGet, "/fhir/"+typ+"?patient="+id+"&_count=500", tok, nil)
				b := parseBundle(t, r)
				validR4(t, nhs+" "+typ+" search", r.Body)
				if ms := b.matches(t); len(ms) > 0 {
					rr := g.do(http.MethodGet, "/fhir/"+typ+"/"+ms[0].ID, tok, nil)
					if rr.Status != 200 {
						t.Errorf("read %s/%s: HTTP %d", typ, ms[0].ID, rr.Status)
					}
					validR4(t, nhs+" "+typ+" read", rr.Body)
				}
			}
			r = g.do(http.MethodGet, "/fhir/Consent?patient="+id, tok, nil)
			validR4(t, nhs+" Consent search", r.Body)
			if len(parseBundle(t, r).matches(t)) == 0 {
				t.Errorf("%s: the clinician's own consent is not found", nhs)
			}
		}
		validR4(t, "Contract search", g.do(http.MethodGet, "/fhir/Contract", tok, nil).Body)
		validR4(t, "OperationOutcome", g.do(http.MethodGet, "/fhir/Condition?patient=x", tok, nil).Body)
	})

	t.Run("emergency access is labelled BTG", func(t *testing.T) {
		etok := g.token("clin-btg", "R8000", "RX999")
		if r := g.recordConsent(etok, tppConsent2, consentEmergency); r.Status != 201 {
			t.Fatalf("emergency consent: HTTP %d %s", r.Status, truncate(r.Body))
		}
		for _, path := range []string{
			"/fhir/Patient/" + pid + "/$everything?_count=500",
			"/fhir/Condition?patient=" + pid,
			"/fhir/Patient/" + pid + "/$mig-view?view=summary",
		} {
			r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, path, etok, nil) })
			validR4(t, path, r.Body)
			if r.Header.Get("X-MIG-Emergency-Access") != "BTG" {
				t.Errorf("%s: no X-MIG-Emergency-Access header", path)
			}
			ms := parseBundle(t, r).matches(t)
			if len(ms) == 0 {
				t.Fatalf("%s: empty", path)
			}
			for _, m := range ms {
				btg := false
				for _, s := range m.Meta.Security {
					btg = btg || (s.Code == "BTG" && s.System == "http://terminology.hl7.org/CodeSystem/v3-ActCode")
				}
				if !btg {
					t.Errorf("%s: %s/%s lacks meta.security BTG", path, m.ResourceType, m.ID)
				}
			}
		}
		// The same resources read with an ordinary consent carry no BTG.
		r := g.do(http.MethodGet, "/fhir/Condition?patient="+pid, tok, nil)
		if strings.Contains(string(r.Body), `"BTG"`) {
			t.Error("ordinary access labelled BTG: labels leak between requests")
		}
	})
}

func copyValues(dst, src url.Values) {
	for k, v := range src {
		dst[k] = append([]string(nil), v...)
	}
}

// typeNamesForTest lists the clinical types the mapper produces.
func typeNamesForTest() []string {
	return []string{"Patient", "Condition", "MedicationStatement", "MedicationRequest", "AllergyIntolerance",
		"Observation", "Procedure", "Immunization", "Flag", "Encounter", "ServiceRequest"}
}

// TestComponentCodeSearch: blood pressure readings are found by either
// half's code: LOINC, or the code the GP system recorded (which the reading's
// own code does not carry).
func TestComponentCodeSearch(t *testing.T) {
	g := startGateway(t, nil)
	tok := g.token("clin-bp", "R8000", "RX999")
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(tok, emisConsent, consentGiven) })
	pid := g.ids.Patient(emisConsent)
	total := func(q string) int {
		t.Helper()
		r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/Observation?patient="+pid+"&"+q, tok, nil) })
		var b struct {
			Total int `json:"total"`
		}
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		return b.Total
	}
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"component-code=http://loinc.org|8480-6", 1},
		{"component-code=2469.", 1},                         // Read v2 systolic, as EMIS recorded it
		{"component-code=http://read.info/readv2|246A.", 1}, // diastolic
		{"component-code=http://snomed.info/sct|72313002", 1},
		{"component-code=42W5.", 0},                       // HbA1c is not a BP half
		{"code=2469.", 0},                                 // the reading's own code is not a half's
		{"category=vital-signs&component-code=8462-4", 1}, // combined with another parameter
		// Every bp Observation carries the profile's panel code: a search by
		// it finds the reading (it once found none).
		{"code=http://loinc.org|85354-9", 1},
		{"code=85354-9", 1},
	} {
		if got := total(tc.q); got != tc.want {
			t.Errorf("%s: total %d, want %d", tc.q, got, tc.want)
		}
	}
	g.call(t, want{400, "INVALID_PARAMETER"}, func() *response {
		return g.do(http.MethodGet, "/fhir/Observation?patient="+pid+"&component-code=", tok, nil)
	})
}

// TestOperationDefinition: the $mig-view definition the CapabilityStatement
// points at resolves, without a token, to a valid R4 OperationDefinition
// listing every view.
func TestOperationDefinition(t *testing.T) {
	g := startGateway(t, nil)
	// Public, like metadata: not a request about anyone, so not audited.
	r := g.do(http.MethodGet, "/fhir/metadata", "", nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), g.m.URL+"/fhir/OperationDefinition/mig-view") {
		t.Fatalf("metadata does not point at the definition")
	}
	r = g.do(http.MethodGet, "/fhir/OperationDefinition/mig-view", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d", r.Status)
	}
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Unmarshal(r.Body); err != nil {
		t.Fatalf("not a valid R4 resource: %v\n%s", err, r.Body)
	}
	for _, v := range []string{"summary", "problems", "diagnoses", "medication", "risks", "procedures", "investigations", "examination", "events", "demographics"} {
		if !strings.Contains(string(r.Body), v) {
			t.Errorf("definition does not list view %s", v)
		}
	}
	if r := g.do(http.MethodGet, "/fhir/OperationDefinition/other", "", nil); r.Status != http.StatusNotFound {
		t.Errorf("unknown definition: status %d", r.Status)
	}
}
