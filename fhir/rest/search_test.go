package rest

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"mig"
	"mig/adapters/record"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// Date search values: every precision FHIR clients send, with its zone.
func TestParseDate(t *testing.T) {
	for _, tc := range []struct {
		in, prefix, lo, hi string
	}{
		{"2026", "eq", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"ge2026-04", "ge", "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"},
		{"le2026-04-02", "le", "2026-04-02T00:00:00Z", "2026-04-03T00:00:00Z"},
		{"eq2026-04-02", "eq", "2026-04-02T00:00:00Z", "2026-04-03T00:00:00Z"},
		{"ne2026-04-02", "ne", "2026-04-02T00:00:00Z", "2026-04-03T00:00:00Z"},
		{"sa2026-04-02", "sa", "2026-04-02T00:00:00Z", "2026-04-03T00:00:00Z"},
		{"eb2026-04-02", "eb", "2026-04-02T00:00:00Z", "2026-04-03T00:00:00Z"},
		{"ge2026-04-02T00:00:00Z", "ge", "2026-04-02T00:00:00Z", "2026-04-02T00:00:01Z"},
		{"2026-04-02T10:30Z", "eq", "2026-04-02T10:30:00Z", "2026-04-02T10:31:00Z"},
		{"gt2026-04-02T10:30:00+01:00", "gt", "2026-04-02T09:30:00Z", "2026-04-02T09:30:01Z"},
		{"lt2026-04-02T10:30:00-05:00", "lt", "2026-04-02T15:30:00Z", "2026-04-02T15:30:01Z"},
		{"2026-04-02T10:30:00 01:00", "eq", "2026-04-02T09:30:00Z", "2026-04-02T09:30:01Z"}, // unencoded +
		{"2026-04-02T10:30:00.5Z", "eq", "2026-04-02T10:30:00.5Z", "2026-04-02T10:30:00.6Z"},
		{"2026-04-02T10:30:00.123Z", "eq", "2026-04-02T10:30:00.123Z", "2026-04-02T10:30:00.124Z"},
	} {
		prefix, lo, hi, err := parseDate(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if prefix != tc.prefix || !lo.Equal(utc(tc.lo)) || !hi.Equal(utc(tc.hi)) {
			t.Errorf("%s: %s [%s, %s), want %s [%s, %s)", tc.in, prefix, lo, hi, tc.prefix, tc.lo, tc.hi)
		}
	}
	for _, bad := range []string{"", "ap2026", "2026-4", "26", "2026-04-02T10:30", "2026-04-02T10:30:00",
		"2026-04-02T10Z", "2026-04-02T25:00Z", "2026-04-02T10:30:00+0100", "2026-04-02T10:30:00.Z",
		"2026-04-02T10:30:00.1234567890Z", "xx2026", "ge", "2026-04-02X10:30Z", "2026-13"} {
		if _, _, _, err := parseDate(bad); mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Each prefix relates the search range to the record's own range, at the
// precision the record gave (FHIR R4 search, date prefixes).
func TestDateMatches(t *testing.T) {
	day := record.Date{T: utc("2026-04-02T00:00:00Z"), P: record.PrecisionDay}
	minute := record.Date{T: utc("2026-04-02T10:30:00Z"), P: record.PrecisionMinute}
	year := record.Date{T: utc("2026-01-01T00:00:00Z"), P: record.PrecisionYear}
	for _, tc := range []struct {
		d      record.Date
		search string
		want   bool
	}{
		{day, "2026-04-02", true},
		{day, "eq2026-04", true},
		{day, "eq2026-04-02T00:00:00Z", false}, // a day is not inside one second
		{day, "ne2026-04-02", false},
		{day, "ne2026-04-03", true},
		{day, "ge2026-04-02", true},
		{day, "ge2026-04-02T00:00:00Z", true},
		{day, "ge2026-04-02T23:59:58Z", true},
		{day, "ge2026-04-02T23:59:59Z", false}, // nothing above that second is in the day (R4 text)
		{day, "ge2026-04-03", false},
		{day, "gt2026-04-02", false},
		{day, "gt2026-04-01", true},
		{day, "le2026-04-02", true},
		{day, "le2026-04-01", false},
		{day, "lt2026-04-02", false},
		{day, "lt2026-04-03", true},
		{day, "sa2026-04-01", true},
		{day, "sa2026-04-02", false},
		{day, "sa2026-04-02T12:00:00Z", false}, // the day has begun before
		{day, "eb2026-04-03", true},
		{day, "eb2026-04-02T12:00:00Z", false},
		{minute, "2026-04-02", true},
		{minute, "eq2026-04-02T10:30Z", true},
		{minute, "eq2026-04-02T11:30+01:00", true},
		{minute, "eq2026-04-02T10:30:00Z", false},
		{minute, "ge2026-04-02T10:30:30Z", true},
		{minute, "gt2026-04-02T10:31:00Z", false},
		{minute, "lt2026-04-02T10:30:30Z", true},
		{minute, "sa2026-04-02T10:29:59Z", true},
		{minute, "eb2026-04-02T10:31Z", true},
		{minute, "eb2026-04-02T10:30:59Z", false},
		{year, "eq2026-04", false}, // 2026 is wider than April
		{year, "ge2026-04", true},  // it reaches beyond April
		{year, "le2026-04", true},  // and before it
		{year, "sa2025", true},
		{year, "ne2026-04", true},
	} {
		prefix, lo, hi, err := parseDate(tc.search)
		if err != nil {
			t.Fatalf("%s: %v", tc.search, err)
		}
		rlo, rhi := dateRange(tc.d)
		if got := dateMatches(prefix, lo, hi, rlo, rhi); got != tc.want {
			t.Errorf("%v (precision %d) %s: %v, want %v", tc.d.T, tc.d.P, tc.search, got, tc.want)
		}
	}
}

// _elements keeps what was asked, the type's mandatory and modifier
// elements and meta.security, and tags the subset SUBSETTED.
func TestSubset(t *testing.T) {
	cond := `{"resourceType":"Condition","id":"c1","meta":{"security":[{"code":"BTG"}],"profile":["p"]},` +
		`"clinicalStatus":{"text":"a"},"verificationStatus":{"text":"v"},"category":[{"text":"c"}],"code":{"text":"x"},` +
		`"subject":{"reference":"Patient/p"},"onsetDateTime":"2012-05-01","_onsetDateTime":{"id":"e"},"recordedDate":"2012-05-02","extension":[{"url":"u"}]}`
	med := `{"resourceType":"MedicationStatement","id":"m1","status":"active","statusReason":[{"text":"r"}],` +
		`"medicationCodeableConcept":{"text":"m"},"subject":{"reference":"Patient/p"},"effectivePeriod":{"start":"2024"},"dosage":[{"text":"d"}]}`
	for _, tc := range []struct {
		body       string
		asked      string
		want, gone []string
	}{
		{cond, "code", []string{"resourceType", "id", "meta", "clinicalStatus", "verificationStatus", "subject", "code"},
			[]string{"category", "onsetDateTime", "_onsetDateTime", "recordedDate", "extension"}},
		{cond, "onset", []string{"onsetDateTime", "_onsetDateTime", "clinicalStatus"}, []string{"code", "recordedDate"}},
		{med, "effective", []string{"status", "medicationCodeableConcept", "subject", "effectivePeriod"}, []string{"statusReason", "dosage"}},
	} {
		asked := map[string]bool{}
		for _, a := range strings.Split(tc.asked, ",") {
			asked[a] = true
		}
		out, err := subset([]byte(tc.body), asked)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		for _, k := range tc.want {
			if _, ok := got[k]; !ok {
				t.Errorf("_elements=%s dropped %s", tc.asked, k)
			}
		}
		for _, k := range tc.gone {
			if _, ok := got[k]; ok {
				t.Errorf("_elements=%s kept %s", tc.asked, k)
			}
		}
		var meta struct {
			Security []struct{ Code string } `json:"security"`
			Tag      []struct{ System, Code string }
		}
		json.Unmarshal(got["meta"], &meta)
		if strings.Contains(tc.body, "BTG") && (len(meta.Security) != 1 || meta.Security[0].Code != "BTG") {
			t.Errorf("meta.security lost: %s", got["meta"])
		}
		if len(meta.Tag) != 1 || meta.Tag[0].Code != "SUBSETTED" || meta.Tag[0].System != "http://terminology.hl7.org/CodeSystem/v3-ObservationValue" {
			t.Errorf("no SUBSETTED tag: %s", got["meta"])
		}
	}
}

func TestParseShaping(t *testing.T) {
	for q, ok := range map[string]bool{
		"_summary=count": true, "_elements=code,onset": true, "_elements=code": true,
		"_summary=true": false, "_summary=data": false, "_summary=": false, "_summary=count&_summary=count": false,
		"_elements=": false, "_elements=code,": false, "_elements=Condition.code": false, "_elements=code&_elements=onset": false,
		"_summary=count&_elements=code": false, "_elements=<b>": false,
	} {
		p, _ := url.ParseQuery(q)
		if _, err := parseShaping(p); (err == nil) != ok {
			t.Errorf("%s: err %v, want ok %v", q, err, ok)
		}
	}
}
