package audit

import "testing"

func TestPatientReportShapes(t *testing.T) {
	for _, tc := range []struct{ in, name, org string }{
		{"Dr Jo Tester", "Dr Jo Tester", "Dr Jo Tester"},
		{"  Siân   O'Neil-Jones ", "Siân O'Neil-Jones", "Siân   O'Neil-Jones"},
		{"St. Mary's Hospital (A&E), Leeds/Bradford 2", "", "St. Mary's Hospital (A&E), Leeds/Bradford 2"},
		{"FREETEXT-123", "", "FREETEXT-123"},
		{"Jo <b>", "", ""},
		{"one two three four five six seven", "", "one two three four five six seven"},
		{"555000111222", "", "555000111222"},
		{"Jo\nTester", "Jo Tester", ""},
		{"", "", ""},
		{"- '", "", "- '"},
	} {
		if got := personName(tc.in); got != tc.name {
			t.Errorf("personName(%q) = %q, want %q", tc.in, got, tc.name)
		}
		if got := orgName(tc.in); got != tc.org {
			t.Errorf("orgName(%q) = %q, want %q", tc.in, got, tc.org)
		}
	}
}
