package record

import (
	"reflect"
	"strconv"
)

// Withhold records that the adapter left out the item with source id id as
// confidential. Finish then withholds whatever links to it.
func (r *Record) Withhold(id string) {
	r.Withheld = true
	r.Stats.Withheld++
	if id != "" {
		r.WithheldIDs = append(r.WithheldIDs, id)
	}
}

// Finish applies the rules every format shares, once an adapter has read
// the whole extract. Each adapter's Parse calls it last.
//
//   - Confidentiality follows links: an entry recorded in a withheld
//     consultation, an issue of a withheld authorisation and a result of a
//     withheld battery are withheld too (to any depth); a withheld member's
//     id leaves its battery's Members and a problem's Links.
//   - A battery or report header is marked Battery while its members are
//     still listed, so the mapper can leave out one left with none.
//   - The same act repeated (same source id, same content) is one entry;
//     different content under one id gets a distinct id ("id#2", ...), so
//     that no two resources share an id.
func (r *Record) Finish() {
	for i := range r.Entries {
		if len(r.Entries[i].Members) > 0 {
			r.Entries[i].Battery = true
		}
	}
	r.propagateWithheld()
	r.dedupe()
}

func (r *Record) propagateWithheld() {
	if len(r.WithheldIDs) == 0 {
		return
	}
	gone := make(map[string]bool, len(r.WithheldIDs))
	for _, id := range r.WithheldIDs {
		gone[id] = true
	}
	for changed := true; changed; {
		changed = false
		kept := r.Entries[:0]
		for _, e := range r.Entries {
			linked := gone[e.Encounter] || gone[e.Parent] ||
				(e.Medication != nil && gone[e.Medication.Authorisation])
			if linked || (e.ID != "" && gone[e.ID]) {
				if e.ID != "" && !gone[e.ID] {
					gone[e.ID] = true
					r.WithheldIDs = append(r.WithheldIDs, e.ID)
				}
				r.Stats.Withheld++
				r.Withheld = true
				changed = true
				continue
			}
			kept = append(kept, e)
		}
		r.Entries = kept
	}
	for i := range r.Entries {
		e := &r.Entries[i]
		e.Members = without(e.Members, gone)
		if e.Problem != nil {
			e.Problem.Links = without(e.Problem.Links, gone)
		}
	}
}

func without(ids []string, gone map[string]bool) []string {
	if len(ids) == 0 {
		return ids
	}
	out := ids[:0]
	for _, id := range ids {
		if !gone[id] {
			out = append(out, id)
		}
	}
	return out
}

// maxVariants bounds how many earlier entries with one id a repeat is
// compared with.
const maxVariants = 8

func (r *Record) dedupe() {
	seen := make(map[string][]int, len(r.Entries))
	kept := r.Entries[:0]
	for _, e := range r.Entries {
		if e.ID == "" {
			kept = append(kept, e)
			continue
		}
		dup := false
		variants := seen[e.ID]
		if len(variants) > maxVariants {
			// A hostile extract repeating one id thousands of times must not
			// cost a comparison with every earlier copy: past a few
			// variants, later copies are kept as distinct entries.
			variants = variants[:maxVariants]
		}
		for _, j := range variants {
			k := kept[j]
			k.ID = e.ID
			if reflect.DeepEqual(k, e) {
				dup = true
				break
			}
		}
		if dup {
			r.Stats.Duplicate++
			continue
		}
		if n := len(seen[e.ID]); n > 0 {
			id := e.ID
			e.ID = id + "#" + strconv.Itoa(n+1)
			seen[id] = append(seen[id], len(kept))
		} else {
			seen[e.ID] = append(seen[e.ID], len(kept))
		}
		kept = append(kept, e)
	}
	r.Entries = kept
}
