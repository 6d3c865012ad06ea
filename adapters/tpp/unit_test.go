package tpp

import (
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

func TestParseDate(t *testing.T) {
	utc := func(y int, m time.Month, d, h, min, s, ns int) time.Time {
		return time.Date(y, m, d, h, min, s, ns, time.UTC)
	}
	tests := []struct {
		in   string
		want record.Date
		ok   bool
	}{
		{"2026-09-15", record.Date{T: utc(2026, 9, 15, 0, 0, 0, 0), P: record.PrecisionDay}, true},
		{" 2026-09-15 ", record.Date{T: utc(2026, 9, 15, 0, 0, 0, 0), P: record.PrecisionDay}, true},
		{"2015-06-01Z", record.Date{T: utc(2015, 6, 1, 0, 0, 0, 0), P: record.PrecisionDay}, true},
		{"2015-06-01+05:00", record.Date{T: utc(2015, 6, 1, 0, 0, 0, 0), P: record.PrecisionDay}, true},
		{"2015-06-01-11:00", record.Date{T: utc(2015, 6, 1, 0, 0, 0, 0), P: record.PrecisionDay}, true},
		{"2015-06", record.Date{T: utc(2015, 6, 1, 0, 0, 0, 0), P: record.PrecisionMonth}, true},
		{"2015", record.Date{T: utc(2015, 1, 1, 0, 0, 0, 0), P: record.PrecisionYear}, true},
		{"2026-09-15T10:30:00", record.Date{T: utc(2026, 9, 15, 10, 30, 0, 0), P: record.PrecisionMinute}, true},
		{"2026-09-15T10:30", record.Date{T: utc(2026, 9, 15, 10, 30, 0, 0), P: record.PrecisionMinute}, true},
		{"2026-09-15T10:30:07", record.Date{T: utc(2026, 9, 15, 10, 30, 7, 0), P: record.PrecisionSecond}, true},
		{"2026-09-15T10:30:00.5", record.Date{T: utc(2026, 9, 15, 10, 30, 0, 5e8), P: record.PrecisionSecond}, true},
		{"2026-09-15T10:30:00Z", record.Date{T: utc(2026, 9, 15, 10, 30, 0, 0), P: record.PrecisionMinute}, true},
		{"2026-09-15T10:30:00+01:00", record.Date{T: utc(2026, 9, 15, 9, 30, 0, 0), P: record.PrecisionMinute}, true},
		{"2021-06-08T23:30:00-05:00", record.Date{T: utc(2021, 6, 9, 4, 30, 0, 0), P: record.PrecisionMinute}, true},
		{"2012-05-01T00:00:00", record.Date{T: utc(2012, 5, 1, 0, 0, 0, 0), P: record.PrecisionDay}, true},
		{"2012-05-01T00:00:00+01:00", record.Date{T: utc(2012, 5, 1, 0, 0, 0, 0), P: record.PrecisionDay}, true},
		{"", record.Date{}, false},
		{"15/06/2015", record.Date{}, false},
		{"2015-13-01", record.Date{}, false},
		{"2015-02-30", record.Date{}, false},
		{"2015-6-1", record.Date{}, false},
		{"20150601", record.Date{}, false},
		{"2026-09-15T25:00:00", record.Date{}, false},
		{"2026-09-15T10:30:00+1", record.Date{}, false},
		{"2026-09-15X", record.Date{}, false},
		{"-2015", record.Date{}, false},
		{"FREETEXT-x", record.Date{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseDate(tt.in)
		want := tt.want.T
		if tt.ok && tt.want.P > record.PrecisionDay && !hasZone(tt.in) {
			// Zone-less times are UK local time: the table writes them as
			// wall-clock values.
			want = time.Date(want.Year(), want.Month(), want.Day(), want.Hour(), want.Minute(), want.Second(), want.Nanosecond(), record.UKTime)
		}
		if ok != tt.ok || !got.T.Equal(want) || got.P != tt.want.P {
			t.Errorf("ParseDate(%q) = %v %v, %v; want %v %v, %v", tt.in, got.T, got.P, ok, tt.want.T, tt.want.P, tt.ok)
		}
	}
}

func codeNode(scheme, code, term string) *xmltok.Node {
	attrs := []xmltok.Attr{{Local: "Scheme", Value: scheme}, {Local: "Code", Value: code}}
	if term != "" {
		attrs = append(attrs, xmltok.Attr{Local: "Term", Value: term})
	}
	return &xmltok.Node{Local: "Code", Attrs: attrs}
}

func TestConcept(t *testing.T) {
	tests := []struct {
		name  string
		nodes []*xmltok.Node
		want  string
		ok    bool
	}{
		{"ctv3 with snomed translation", []*xmltok.Node{codeNode("CTV3", "X40J5", "Type 2 diabetes mellitus"), codeNode("Snomed", "44054006", "Diabetes mellitus type 2")},
			"read.info/ctv3|X40J5|Type 2 diabetes mellitus snomed.info/sct|44054006|Diabetes mellitus type 2", true},
		{"snomed as entered, ctv3 translation", []*xmltok.Node{codeNode("Snomed", "44054006", "T2DM"), codeNode("CTV3", "X40J5", "T2DM")},
			"snomed.info/sct|44054006|T2DM read.info/ctv3|X40J5|T2DM", true},
		{"ctv3 alone", []*xmltok.Node{codeNode("CTV3", "9Nd7.", "Consent")}, "read.info/ctv3|9Nd7.|Consent", true},
		{"no term", []*xmltok.Node{codeNode("CTV3", "9Nd7.", "")}, "read.info/ctv3|9Nd7.|", true},
		{"local Y code kept beside national, term dropped", []*xmltok.Node{codeNode("CTV3", "Y1234", "FREETEXT-local"), codeNode("Snomed", "38341003", "Hypertension")},
			"fhir.hl7.org.uk/Id/tpp-local-codes|Y1234| snomed.info/sct|38341003|Hypertension", true},
		{"local Y code alone", []*xmltok.Node{codeNode("CTV3", "Y1234", "FREETEXT-local")}, "", false},
		{"other scheme is local", []*xmltok.Node{codeNode("Read2", "G20..", "FREETEXT-other")}, "", false},
		{"malformed ctv3 is local", []*xmltok.Node{codeNode("CTV3", "G20", "x"), codeNode("Snomed", "38341003", "")},
			"fhir.hl7.org.uk/Id/tpp-local-codes|G20| snomed.info/sct|38341003|", true},
		{"malformed snomed is local", []*xmltok.Node{codeNode("Snomed", "0123456", "x")}, "", false},
		{"snomed too short", []*xmltok.Node{codeNode("Snomed", "12345", "x")}, "", false},
		{"duplicate dropped", []*xmltok.Node{codeNode("CTV3", "9Nd7.", "a"), codeNode("CTV3", "9Nd7.", "b")}, "read.info/ctv3|9Nd7.|a", true},
		{"empty code skipped", []*xmltok.Node{codeNode("CTV3", "", "x"), codeNode("CTV3", "9Nd7.", "a")}, "read.info/ctv3|9Nd7.|a", true},
		{"none", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := Concept(tt.nodes)
			if ok != tt.ok || codes(c) != tt.want {
				t.Errorf("Concept = %q, %v; want %q, %v", codes(c), ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRoleCode(t *testing.T) {
	for in, want := range map[string]string{"R8000": "R8000", "S8000:G8000:R8001": "R8001", " R0260 ": "R0260",
		"GP Partner": "", "R80": "", "X8000": "", "R80a0": ""} {
		if got := roleCode(in); got != want {
			t.Errorf("roleCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsDecimal(t *testing.T) {
	for in, want := range map[string]bool{"58": true, "87.5": true, "-1.25": true, "+3": true, ".5": true, "5.": true,
		"": false, "-": false, ".": false, "1.2.3": false, "1e3": false, "58 mmol": false, "<5": false} {
		if got := isDecimal(in); got != want {
			t.Errorf("isDecimal(%q) = %v, want %v", in, got, want)
		}
	}
}

func hasZone(s string) bool {
	if i := strings.IndexByte(s, 'T'); i >= 0 {
		rest := s[i:]
		return strings.HasSuffix(rest, "Z") || strings.ContainsAny(rest, "+") || strings.Count(rest, "-") > 0
	}
	return false
}
