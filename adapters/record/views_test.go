package record

import (
	"testing"
	"time"
)

// TestSummaryCurrentMedication checks which authorisations the Summary
// shows as current medication: not stopped or completed, not past their end
// date, and an acute course without an end date only while recent.
func TestSummaryCurrentMedication(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	day := func(y int, m time.Month, d int) Date {
		return Date{T: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), P: PrecisionDay}
	}
	month := func(y int, m time.Month) Date {
		return Date{T: time.Date(y, m, 1, 0, 0, 0, 0, time.UTC), P: PrecisionMonth}
	}
	repeat := &MedicationInfo{Type: PrescriptionRepeat}
	acute := &MedicationInfo{Type: PrescriptionAcute}
	tests := []struct {
		name string
		e    Entry
		want bool
	}{
		{"active repeat, no end", Entry{Status: StatusActive, Effective: day(2024, 1, 10), Medication: repeat}, true},
		{"unknown status repeat, no end", Entry{Status: StatusUnknown, Effective: day(2024, 1, 10), Medication: repeat}, true},
		{"stopped repeat", Entry{Status: StatusStopped, Effective: day(2024, 1, 10), Medication: repeat}, false},
		{"completed repeat", Entry{Status: StatusCompleted, Effective: day(2024, 1, 10), Medication: repeat}, false},
		{"active repeat ended last year", Entry{Status: StatusActive, Effective: day(2020, 1, 10), End: day(2025, 1, 10), Medication: repeat}, false},
		{"unknown status ended yesterday", Entry{Status: StatusUnknown, Effective: day(2026, 1, 10), End: day(2026, 11, 25), Medication: repeat}, false},
		{"active repeat ending today", Entry{Status: StatusActive, Effective: day(2026, 1, 10), End: day(2026, 11, 26), Medication: repeat}, true},
		{"active repeat ending this month", Entry{Status: StatusActive, Effective: day(2026, 1, 10), End: month(2026, 11), Medication: repeat}, true},
		{"active repeat ending in 2030", Entry{Status: StatusActive, Effective: day(2019, 1, 16), End: day(2030, 1, 1), Medication: repeat}, true},
		{"active acute from 2023, no end", Entry{Status: StatusActive, Effective: day(2023, 1, 15), Medication: acute}, false},
		{"active acute started last week, no end", Entry{Status: StatusActive, Effective: day(2026, 11, 19), Medication: acute}, true},
		{"active acute ending next week", Entry{Status: StatusActive, Effective: day(2026, 11, 1), End: day(2026, 12, 3), Medication: acute}, true},
		{"active, type not stated, no end", Entry{Status: StatusActive, Effective: day(2020, 5, 1), Medication: &MedicationInfo{}}, true},
		{"active, no medication info", Entry{Status: StatusActive, Effective: day(2020, 5, 1)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.e
			e.ID, e.Kind = "a", KindMedicationAuthorisation
			rec := &Record{Entries: []Entry{e}}
			Tag(rec, DefaultViewContext(now))
			if got := rec.Entries[0].InView(ViewSummary); got != tc.want {
				t.Errorf("in Summary = %v, want %v", got, tc.want)
			}
			if !rec.Entries[0].InView(ViewMedication) {
				t.Errorf("not in the Medication view")
			}
		})
	}
}

// TestSummaryAllergies checks the Summary's allergies: active ones (and
// those of unknown status, which the mapper shows as active), never
// resolved or inactive ones, and a coded "no known allergies" only when no
// allergy the Summary shows contradicts it.
func TestSummaryAllergies(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	nka := Entry{ID: "nka", Kind: KindAllergy, Status: StatusActive, Allergy: &AllergyInfo{Category: AllergyNoKnown}}
	allergy := func(id string, s Status) Entry {
		return Entry{ID: id, Kind: KindAllergy, Status: s, Allergy: &AllergyInfo{Category: AllergyDrug}}
	}
	tests := []struct {
		name    string
		entries []Entry
		want    map[string]bool // id -> in Summary
	}{
		{"no known allergies alone", []Entry{nka}, map[string]bool{"nka": true}},
		{"no known allergies and an active allergy", []Entry{nka, allergy("a", StatusActive)}, map[string]bool{"nka": false, "a": true}},
		{"active allergy first", []Entry{allergy("a", StatusActive), nka}, map[string]bool{"nka": false, "a": true}},
		{"no known allergies and a resolved allergy", []Entry{nka, allergy("a", StatusResolved)}, map[string]bool{"nka": true, "a": false}},
		{"no known allergies and an inactive allergy", []Entry{allergy("a", StatusInactive), nka}, map[string]bool{"nka": true, "a": false}},
		{"unknown status allergy", []Entry{allergy("a", StatusUnknown), nka}, map[string]bool{"nka": false, "a": true}},
		{"completed allergy", []Entry{allergy("a", StatusCompleted)}, map[string]bool{"a": false}},
		{"allergy without info", []Entry{{ID: "a", Kind: KindAllergy, Status: StatusActive}, nka}, map[string]bool{"nka": false, "a": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &Record{Entries: append([]Entry(nil), tc.entries...)}
			Tag(rec, DefaultViewContext(now))
			for _, e := range rec.Entries {
				if got := e.InView(ViewSummary); got != tc.want[e.ID] {
					t.Errorf("%s in Summary = %v, want %v", e.ID, got, tc.want[e.ID])
				}
			}
		})
	}
}
