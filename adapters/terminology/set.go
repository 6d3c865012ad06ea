package terminology

import (
	"mig"
	"mig/adapters/record"
)

// Config is the gateway's one `terminology` configuration block (README.md,
// "Terminology"). Every part is optional; a deployment loads what it has.
type Config struct {
	// MapFiles are TRUD Read v2 / CTV3 -> SNOMED CT map files (Load).
	MapFiles []string `json:"mapFiles"`
	// ReadRubrics and CTV3Rubrics are rubric files (Rubrics).
	ReadRubrics []string `json:"readRubrics"`
	CTV3Rubrics []string `json:"ctv3Rubrics"`
	// SNOMED is a SNOMED CT release in RF2 (LoadRelease).
	SNOMED RF2Files `json:"snomed"`
	// DMD are dm+d XML files: f_vtm2, f_vmp2, f_amp2 (LoadDMD).
	DMD []string `json:"dmd"`
}

// IsZero reports whether the block names no file.
func (c Config) IsZero() bool {
	return len(c.MapFiles) == 0 && len(c.ReadRubrics) == 0 && len(c.CTV3Rubrics) == 0 &&
		c.SNOMED.IsZero() && len(c.DMD) == 0
}

// Terminology is everything a deployment loaded: maps, rubrics, a SNOMED
// CT release and dm+d names. Any part may be nil; every method is safe on
// missing parts (and on a nil *Terminology) and for concurrent use.
//
// It is the adapters.Reader's Translator (Fill) and, when a release is
// loaded, the record.Classifier's Hierarchy (IsA).
type Terminology struct {
	Map     *Map
	Rubrics *Rubrics
	Release *Release
	DMD     *DMD
	// Classifier, when set, reclassifies in Fill the entries the adapter
	// could not classify once their codes resolve (see Fill). Set it to the
	// classifier the adapters parse with.
	Classifier *record.Classifier
}

// Open loads every file the configuration names. Errors are EINVALID and
// name the file and line, never content.
func Open(cfg Config) (*Terminology, error) {
	t := &Terminology{}
	var err error
	if len(cfg.MapFiles) > 0 {
		if t.Map, err = Load(cfg.MapFiles...); err != nil {
			return nil, err
		}
	}
	if len(cfg.ReadRubrics) > 0 {
		if t.Rubrics, err = LoadRubrics(t.Rubrics, record.SystemReadV2, cfg.ReadRubrics...); err != nil {
			return nil, err
		}
	}
	if len(cfg.CTV3Rubrics) > 0 {
		if t.Rubrics, err = LoadRubrics(t.Rubrics, record.SystemCTV3, cfg.CTV3Rubrics...); err != nil {
			return nil, err
		}
	}
	if !cfg.SNOMED.IsZero() {
		if len(cfg.SNOMED.Concepts) == 0 || len(cfg.SNOMED.Relationships) == 0 ||
			len(cfg.SNOMED.Descriptions) == 0 || len(cfg.SNOMED.LanguageRefsets) == 0 {
			return nil, &mig.Error{Code: mig.EINVALID, Message: "terminology snomed: concepts, descriptions, relationships and languageRefsets are all needed"}
		}
		if t.Release, err = LoadRelease(cfg.SNOMED); err != nil {
			return nil, err
		}
	}
	if len(cfg.DMD) > 0 {
		if t.DMD, err = LoadDMD(nil, cfg.DMD...); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Display returns the display of code in system: for SNOMED CT the dm+d
// name of a medicine, else the release's preferred term (UK English
// language reference sets) of the active concept; for Read v2 and CTV3 the
// preferred rubric. It is a term from a loaded release, never from an
// extract.
func (t *Terminology) Display(system, code string) (string, bool) {
	if t == nil || code == "" {
		return "", false
	}
	switch system {
	case record.SystemSNOMED:
		if s, ok := t.DMD.Name(code); ok {
			return s, true
		}
		return t.Release.Display(code)
	case record.SystemReadV2, record.SystemCTV3:
		return t.Rubrics.Display(system, code)
	}
	return "", false
}

// ConceptOfDescription returns the concept id a SNOMED CT description id
// describes, with a loaded release.
func (t *Terminology) ConceptOfDescription(descID string) (string, bool) {
	if t == nil {
		return "", false
	}
	return t.Release.ConceptOfDescription(descID)
}

// IsA reports whether concept is ancestor or one of its descendants over
// the loaded release's active IS-A relationships (false without a
// release, unless concept is ancestor). It is record.Hierarchy.
func (t *Terminology) IsA(concept, ancestor string) bool {
	if t == nil || t.Release == nil {
		return false
	}
	return t.Release.IsA(concept, ancestor)
}

// Active reports whether concept is active in the loaded release.
func (t *Terminology) Active(concept string) bool {
	if t == nil {
		return false
	}
	return t.Release.Active(concept)
}

// Concepts in Fill's allergy completion (international release).
const (
	noKnownAllergy = "716186003" // |No known allergy (situation)|
	drugPropensity = "419511003" // |Propensity to adverse reaction to drug (finding)|
	drugAllergy    = "416098002" // |Allergy to drug (finding)|
)

// Fill is the post-parse step (adapters.Translator). For every concept of
// rec (entry codes, interpretations, allergy substances and reactions,
// referral specialties, blood-pressure halves) it
//   - translates a SNOMED CT description id (Coding.DescriptionID with no
//     Code) to its concept's Code with a loaded release, keeping
//     DescriptionID for the coding-sctdescid extension; Code stays empty
//     when the release does not hold the description;
//   - adds the SNOMED CT translation of a Read v2 or CTV3 code from the
//     maps, when the concept has no SNOMED CT code.
//
// Then, when Classifier is set, each entry the adapter could not classify
// (KindNone with NotShown RuleUnclassifiable) is classified again from its
// codes, now translated and with the release's hierarchy: it gets a kind
// (with the allergy or referral part an adapter would give it) or the
// dataset rule that keeps it out. Entries an adapter gave a kind, or
// excluded by a rule, are never changed, nor is anything turned into a
// blood-pressure reading (pairing halves is the adapter's work): such an
// entry stays unclassifiable. It returns how many codings it added or
// translated.
func (t *Terminology) Fill(rec *record.Record) int {
	if t == nil || rec == nil {
		return 0
	}
	n := 0
	for i := range rec.Entries {
		e := &rec.Entries[i]
		for _, c := range entryConcepts(e) {
			n += t.fillConcept(c)
		}
		t.reclassify(e)
	}
	return n
}

func (t *Terminology) fillConcept(c *record.Concept) int {
	n := 0
	if t.Release != nil {
		for j := range c.Codings {
			cd := &c.Codings[j]
			if cd.System != record.SystemSNOMED || cd.Code != "" || cd.DescriptionID == "" {
				continue
			}
			if id, ok := t.Release.ConceptOfDescription(cd.DescriptionID); ok {
				cd.Code = id
				n++
			}
		}
	}
	if t.Map != nil && t.Map.fill(c) {
		n++
	}
	return n
}

func (t *Terminology) reclassify(e *record.Entry) {
	if t.Classifier == nil || e.Kind != record.KindNone || e.NotShown != record.RuleUnclassifiable {
		return
	}
	k, r := t.Classifier.Classify(e.Code)
	switch k {
	case record.KindNone:
		e.NotShown = r
		return
	case record.KindBloodPressure, record.KindProblem, record.KindEncounter,
		record.KindMedicationAuthorisation, record.KindMedicationIssue:
		return // structural kinds: only an adapter gives them
	}
	e.Kind, e.NotShown = k, record.RuleNone
	switch k {
	case record.KindAllergy:
		if e.Allergy == nil {
			e.Allergy = &record.AllergyInfo{Category: t.allergyCategory(e.Code)}
		}
		if e.Status == record.StatusUnknown {
			e.Status = record.StatusActive
		}
	case record.KindReferral:
		if e.Referral == nil {
			e.Referral = &record.ReferralInfo{}
		}
	}
}

func (t *Terminology) allergyCategory(c record.Concept) string {
	for _, cd := range c.Codings {
		if cd.System != record.SystemSNOMED || cd.Code == "" {
			continue
		}
		switch {
		case t.IsA(cd.Code, noKnownAllergy):
			return record.AllergyNoKnown
		case t.IsA(cd.Code, drugPropensity), t.IsA(cd.Code, drugAllergy):
			return record.AllergyDrug
		}
	}
	return record.AllergyOther
}

// entryConcepts returns the coded concepts of e that Fill translates.
func entryConcepts(e *record.Entry) []*record.Concept {
	cs := []*record.Concept{&e.Code, &e.Interpretation, &e.SystolicCode, &e.DiastolicCode}
	if e.Allergy != nil {
		cs = append(cs, &e.Allergy.Substance, &e.Allergy.Reaction)
	}
	if e.Referral != nil {
		cs = append(cs, &e.Referral.Specialty)
	}
	return cs
}
