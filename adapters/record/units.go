package record

import "strings"

// Units. A unit reaches a client only when it is one of:
//   - a valid UCUM expression (The Unified Code for Units of Measure,
//     https://ucum.org/ucum): atoms from ucumAtoms, with metric prefixes where
//     UCUM allows them, integer exponents, '.', '/' and parentheses; braced
//     annotations only from ucumAnnotations, a short list of our own, because
//     UCUM lets any text stand in braces;
//   - a unit string GP systems are known to write that is not UCUM as
//     written (gpUnits): kept as written, coded as its UCUM equivalent.
//
// Anything else is dropped and the quantity says so (UnitWithheld): a unit
// slot in an extract can hold any text, and a number shown without its unit,
// silently, is misread.

// SetUnit vets raw (the unit as the source wrote it) and keeps it when it
// passes; otherwise the unit is left out and q.UnitWithheld set. An empty
// raw (no unit) or UCUM unity "1" keeps no unit and withholds nothing.
func (q *Quantity) SetUnit(raw string) {
	q.Unit, q.UnitWithheld = "", false
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "1" {
		return
	}
	if _, ok := UCUMCode(raw); ok {
		q.Unit = raw
		return
	}
	q.UnitWithheld = true
}

// UCUMCode returns the UCUM code of a unit that SetUnit keeps: the unit
// itself when it is valid UCUM, its equivalent when it is a known GP unit
// string. ok is false for any other unit.
func UCUMCode(unit string) (string, bool) {
	if code, ok := gpUnits[unit]; ok {
		return code, true
	}
	if ValidUCUM(unit) {
		return unit, true
	}
	return "", false
}

// gpUnits are unit strings GP systems and laboratories write that are not
// valid UCUM as written (case, spelling, '^' powers), with the UCUM code
// each means. Sources: the units in the GP2GP reference samples and
// fragments; NHS pathology reporting (PMIP, "Pathology units of measure");
// the UCUM specification for the equivalents.
var gpUnits = map[string]string{
	"mmol/l": "mmol/L", "umol/l": "umol/L", "nmol/l": "nmol/L", "pmol/l": "pmol/L",
	"µmol/L": "umol/L", "µmol/l": "umol/L", "micromol/L": "umol/L", "micromol/l": "umol/L",
	"g/l": "g/L", "g/dl": "g/dL", "mg/l": "mg/L", "mg/dl": "mg/dL", "ug/l": "ug/L", "µg/L": "ug/L",
	"ng/ml": "ng/mL", "ng/l": "ng/L", "mg/mmol": "mg/mmol",
	"x10^9/L": "10*9/L", "x10^9/l": "10*9/L", "10^9/L": "10*9/L", "10^9/l": "10*9/L",
	"x10*9/L": "10*9/L", "x10*9/l": "10*9/L", "10*9/l": "10*9/L", "x 10^9/L": "10*9/L",
	"x10^12/L": "10*12/L", "x10^12/l": "10*12/L", "10^12/L": "10*12/L", "10^12/l": "10*12/L",
	"x10*12/L": "10*12/L", "x10*12/l": "10*12/L", "10*12/l": "10*12/L",
	"mL/min/1.73m2": "mL/min/{1.73_m2}", "ml/min/1.73m2": "mL/min/{1.73_m2}",
	"mL/min/1.73 m2": "mL/min/{1.73_m2}", "ml/min/1.73 m2": "mL/min/{1.73_m2}",
	"mL/min/1.73m^2": "mL/min/{1.73_m2}", "ml/min/1.73m^2": "mL/min/{1.73_m2}",
	"mmHg": "mm[Hg]", "mm Hg": "mm[Hg]", "mmhg": "mm[Hg]",
	"IU/L": "[IU]/L", "IU/l": "[IU]/L", "iu/l": "[IU]/L", "IU/mL": "[IU]/mL", "IU/ml": "[IU]/mL",
	"mIU/L": "m[IU]/L", "mIU/l": "m[IU]/L", "miu/l": "m[IU]/L", "mU/l": "mU/L", "mu/l": "mU/L",
	"u/l": "U/L", "iu": "[IU]", "IU": "[IU]", "kU/l": "kU/L", "kIU/L": "k[IU]/L", "kIU/l": "k[IU]/L",
	"ml": "mL", "ml/min": "mL/min", "l": "L", "L/min": "L/min", "l/min": "L/min", "dl": "dL",
	"fl": "fL", "FL": "fL", "secs": "s", "sec": "s", "seconds": "s", "mins": "min", "hrs": "h",
	"mm/hr": "mm/h", "mm/hour": "mm/h", "mm/1hr": "mm/h",
	"bpm": "/min", "beats/min": "/min", "beats per minute": "/min", "breaths/min": "/min",
	"kg/m^2": "kg/m2", "Kg": "kg", "KG": "kg", "kgs": "kg", "gram": "g", "grams": "g",
	"cms": "cm", "metres": "m", "metre": "m",
	"deg C": "Cel", "degC": "Cel", "°C": "Cel",
	"ratio": "{ratio}", "Ratio": "{ratio}", "units/week": "U/wk", "U/week": "U/wk",
	"units": "U", "Units": "U", "/day": "/d", "per day": "/d", "cigs/day": "/d",
	"mg/24hr": "mg/(24.h)", "mmol/24hr": "mmol/(24.h)", "g/24hr": "g/(24.h)",
	"kPa": "kPa", "mosmol/kg": "mosm/kg", "mOsm/kg": "mosm/kg",
	"titre": "{titer}",
	// dose units of medicines (dm+d units of measure) as prescriptions carry them
	"tablet": "{tbl}", "tablets": "{tbl}", "capsule": "{capsule}", "capsules": "{capsule}",
	"dose": "{dose}", "doses": "{dose}", "device": "{device}", "sachet": "{sachet}",
	"sachets": "{sachet}", "patch": "{patch}", "patches": "{patch}", "ampoule": "{ampoule}",
	"ampoules": "{ampoule}", "vial": "{vial}", "vials": "{vial}", "pessary": "{pessary}",
	"suppository": "{suppository}", "pack": "{pack}", "inhaler": "{inhaler}",
	"lozenge": "{lozenge}", "pastille": "{pastille}", "spray": "{spray}", "drop": "[drp]",
	"drops": "[drp]", "application": "{application}", "cylinder": "{cylinder}",
	"pre-filled disposable injection": "{injection}", "enema": "{enema}", "unit dose": "{dose}",
}

// ucumAnnotations are the braced annotations we accept: UCUM allows any
// text between braces, so only these, which mean a fixed thing, pass.
var ucumAnnotations = map[string]bool{
	"ratio": true, "score": true, "cells": true, "beats": true, "breaths": true, "copies": true,
	"titer": true, "INR": true, "1.73_m2": true, "rbc": true, "wbc": true, "dilution": true,
	"index": true, "count": true, "Ehrlich'U": true, "drp": true, "puffs": true, "tbl": true,
	"cig": true, "packyears": true, "StdDrink": true,
	"capsule": true, "dose": true, "device": true, "sachet": true, "patch": true, "ampoule": true,
	"vial": true, "pessary": true, "suppository": true, "pack": true, "inhaler": true,
	"lozenge": true, "pastille": true, "spray": true, "application": true, "cylinder": true,
	"injection": true, "enema": true,
}

// ucumAtoms are the UCUM unit atoms we recognise (UCUM tables 3-27, the
// ones clinical results and observations use), true where the atom is
// metric and so takes a prefix.
var ucumAtoms = map[string]bool{
	// base and derived SI
	"m": true, "s": true, "g": true, "rad": true, "K": true, "C": true, "cd": true,
	"mol": true, "sr": true, "Hz": true, "N": true, "Pa": true, "J": true, "W": true, "A": true,
	"V": true, "F": true, "Ohm": true, "S": true, "Wb": true, "Cel": true, "T": true, "H": true,
	"lm": true, "lx": true, "Bq": true, "Gy": true, "Sv": true, "l": true, "L": true, "ar": true,
	"t": true, "bar": true, "u": true, "eV": true, "pc": true, "U": true, "kat": true, "osm": true,
	"eq": true, "Ci": true, "R": true, "dyn": true, "erg": true, "P": true, "St": true,
	"cal": true, "g%": true, "mho": true, "%": false,
	// time, not metric
	"min": false, "h": false, "d": false, "wk": false, "mo": false, "a": false, "mo_j": false,
	"a_j": false, "mo_g": false, "a_g": false, "'": false, "''": false, "deg": false,
	// bracketed
	"mm[Hg]": false, "cm[H2O]": false, "m[Hg]": true, "m[H2O]": true, "[IU]": true, "[iU]": true,
	"[in_i]": false, "[ft_i]": false, "[lb_av]": false, "[oz_av]": false, "[stone_av]": false,
	"[pH]": false, "[ppm]": false, "[ppb]": false, "[ppth]": false, "[pptr]": false,
	"[drp]": false, "[degF]": false, "[cal]": false, "[foz_br]": false, "[pt_br]": false,
	"[gal_br]": false, "[HPF]": false, "[LPF]": false, "[arb'U]": false, "[CFU]": false,
	"[PFU]": false, "[diop]": false, "[mi_i]": false, "[yd_i]": false,
	"[tsp_us]": false, "[tbs_us]": false, "[in_i'Hg]": false, "[psi]": false,
}

// ucumPrefixes are UCUM's metric prefixes (table 1).
var ucumPrefixes = []string{"da", "Y", "Z", "E", "P", "T", "G", "M", "k", "h", "d", "c", "m", "u", "n", "p", "f", "a", "z", "y"}

// ValidUCUM reports whether s is a UCUM expression we accept (see above).
func ValidUCUM(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	p := ucumParser{s: s}
	if p.peek() == '/' {
		p.i++
	}
	if !p.term() {
		return false
	}
	return p.i == len(p.s)
}

type ucumParser struct {
	s     string
	i     int
	depth int
}

func (p *ucumParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// term := component (('.' | '/') component)*
func (p *ucumParser) term() bool {
	if !p.component() {
		return false
	}
	for p.peek() == '.' || p.peek() == '/' {
		p.i++
		if !p.component() {
			return false
		}
	}
	return true
}

// component := '(' term ')' | annotation | factor | simple exponent? annotation?
func (p *ucumParser) component() bool {
	switch c := p.peek(); {
	case c == '(':
		if p.depth >= 4 {
			return false
		}
		p.i++
		p.depth++
		if !p.term() || p.peek() != ')' {
			return false
		}
		p.i++
		p.depth--
		return true
	case c == '{':
		return p.annotation()
	case c >= '0' && c <= '9':
		// a factor, or 10* / 10^ followed by an exponent
		if strings.HasPrefix(p.s[p.i:], "10*") || strings.HasPrefix(p.s[p.i:], "10^") {
			p.i += 3
			return p.exponent(true)
		}
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
		if p.peek() == '{' {
			return p.annotation()
		}
		return true
	}
	if !p.simple() {
		return false
	}
	p.exponent(false)
	if p.peek() == '{' {
		return p.annotation()
	}
	return true
}

func (p *ucumParser) exponent(required bool) bool {
	j := p.i
	if c := p.peek(); c == '+' || c == '-' {
		p.i++
	}
	k := p.i
	for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
		p.i++
	}
	if p.i == k {
		p.i = j
		return !required
	}
	return true
}

func (p *ucumParser) annotation() bool {
	end := strings.IndexByte(p.s[p.i:], '}')
	if end < 0 {
		return false
	}
	if !ucumAnnotations[p.s[p.i+1:p.i+end]] {
		return false
	}
	p.i += end + 1
	return true
}

// simple reads the longest atom (with an optional prefix) at p.i.
func (p *ucumParser) simple() bool {
	rest := p.s[p.i:]
	n := 0
	for n < len(rest) {
		c := rest[n]
		if c == '.' || c == '/' || c == '(' || c == ')' || c == '{' || (c >= '0' && c <= '9') || c == '+' || c == '-' {
			break
		}
		if c == '[' {
			j := strings.IndexByte(rest[n:], ']')
			if j < 0 {
				return false
			}
			n += j + 1
			continue
		}
		n++
	}
	sym := rest[:n]
	if sym == "" {
		return false
	}
	if _, ok := ucumAtoms[sym]; ok {
		p.i += n
		return true
	}
	for _, pre := range ucumPrefixes {
		if metric, ok := ucumAtoms[strings.TrimPrefix(sym, pre)]; ok && metric && strings.HasPrefix(sym, pre) && len(sym) > len(pre) {
			p.i += n
			return true
		}
	}
	return false
}
