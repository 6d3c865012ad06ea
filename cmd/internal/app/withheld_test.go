package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestWithheldAndSensitive: what the access rules hold back is held back,
// and the answer says something was withheld without saying what or how
// many; a patient flagged sensitive in demographics has no address.
func TestWithheldAndSensitive(t *testing.T) {
	g := startGateway(t, nil)
	tok := g.token("clin-withheld", "R8000", "RX999")

	type bundle struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
			Search   struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	everything := func(nhs string) (bundle, string) {
		t.Helper()
		g.call(t, want{status: 201}, func() *response { return g.recordConsent(tok, nhs, consentGiven) })
		r := g.call(t, want{status: 200}, func() *response {
			return g.do(http.MethodGet, "/fhir/Patient/"+g.ids.Patient(nhs)+"/$everything", tok, nil)
		})
		var b bundle
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		return b, string(r.Body)
	}
	// outcomes counts the "withheld" warnings; the other outcome a Bundle
	// may carry is the distinct "could not be shown" warning (code
	// incomplete: coded items no rule could place, here the local-only codes
	// our GP2GP extracts carry), which is never a withheld warning.
	outcomes := func(b bundle) int {
		n := 0
		for _, e := range b.Entry {
			if e.Search.Mode != "outcome" {
				continue
			}
			switch {
			case strings.Contains(string(e.Resource), `"suppressed"`):
				n++
			case strings.Contains(string(e.Resource), `"incomplete"`) && strings.Contains(string(e.Resource), "could not be shown"):
			default:
				t.Errorf("outcome entry is neither warning: %s", e.Resource)
			}
		}
		return n
	}

	for _, tc := range []struct {
		name, nhs string
		absent    []string // codes that must not be in the answer
		withheld  bool
	}{
		// UK07: a NOPAT statement and a NOPAT consultation.
		{name: "confidential items", nhs: "9990001022", withheld: true},
		// Sensitive codes: gonococcal infection, termination of pregnancy.
		{name: "sensitive codes", nhs: "9990001065", absent: []string{"15628003", "57797005", `"A98..`, `"7E070`}, withheld: true},
		// The equivalence story: nothing to withhold.
		{name: "nothing withheld", nhs: "9990001006", withheld: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, body := everything(tc.nhs)
			if got := outcomes(b) > 0; got != tc.withheld {
				t.Fatalf("withheld warning present = %v, want %v", got, tc.withheld)
			}
			if outcomes(b) > 1 {
				t.Errorf("more than one withheld warning: it must not count what was withheld")
			}
			for _, code := range tc.absent {
				if strings.Contains(body, code) {
					t.Errorf("withheld code %s is in the answer", code)
				}
			}
		})
	}

	t.Run("sensitive patient has no address", func(t *testing.T) {
		b, _ := everything("9990003068")
		var patient map[string]any
		if err := json.Unmarshal(b.Entry[0].Resource, &patient); err != nil {
			t.Fatal(err)
		}
		if patient["resourceType"] != "Patient" {
			t.Fatalf("first entry is %v, want the Patient", patient["resourceType"])
		}
		if _, ok := patient["address"]; ok {
			t.Errorf("a sensitive patient's address is in the answer: %v", patient["address"])
		}
		if patient["name"] == nil || patient["birthDate"] == nil {
			t.Errorf("a sensitive patient still has name and birth date for identification: %v", patient)
		}
	})
	t.Run("ordinary patient has an address", func(t *testing.T) {
		b, _ := everything("9990003009")
		var patient map[string]any
		if err := json.Unmarshal(b.Entry[0].Resource, &patient); err != nil {
			t.Fatal(err)
		}
		if _, ok := patient["address"]; !ok {
			t.Errorf("an ordinary patient's address is missing: the sensitive check above proves nothing")
		}
	})
}
