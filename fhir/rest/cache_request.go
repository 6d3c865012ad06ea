package rest

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"

	"mig"
	"mig/adapters"
	"mig/adapters/record"
	"mig/consent"
	"mig/fhir"
)

// SharedRecords is Records that can read through a Cache
// (adapters.Reader): the extract is fetched live and hashed every time,
// and parsed only when its bytes are new. The record returned is the
// caller's, its Entries shared with the cache.
type SharedRecords interface {
	ReadShared(ctx context.Context, practice, nhs string, now time.Time, pc adapters.ParseCache) (*record.Record, adapters.Extract, error)
}

// sharedPatientData is patientData's stage from the live read on, through
// the cache. It does what the uncached path does, in the same order, on
// this request's own copy of the entries; only the parse and the mapping
// (and later each resource's JSON) may be reused, and only for the same
// bytes, pipeline and signature.
func (s *Server) sharedPatientData(c echo.Context, r *consent.Request, sr SharedRecords, practice, nhs string) (*patientView, error) {
	ctx := c.Request().Context()
	now := s.now()
	rec, x, err := sr.ReadShared(ctx, practice, nhs, now, s.Cache)
	if err != nil {
		return nil, s.refuseOnce(c, r, readRule(err), err)
	}
	// This request's own entries: Tag sets Views and NotShown.
	own := make([]record.Entry, len(rec.Entries))
	copy(own, rec.Entries)
	views := make([]record.View, 2*len(own))
	for i := range own {
		own[i].Views = views[2*i : 2*i : 2*i+2] // Tag appends; more than two views grow their own
	}
	rec.Entries = own
	if err := s.canSee(c, r, rec); err != nil {
		return nil, err
	}
	record.Tag(rec, s.ViewContext(now))
	res, v, err := s.mapShared(ctx, r, x, rec)
	if err != nil {
		return nil, s.refuseOnce(c, r, "mapping", &mig.Error{Code: mig.EINTERNAL, Message: "the record could not be mapped to FHIR", Err: err})
	}
	if res.Withheld {
		r.Withheld = true
	}
	pv := &patientView{rec: rec, Result: res, shared: v}
	c.Set(keyView, pv)
	return pv, nil
}

// mapShared maps rec (tagged, this request's) as Mapper.Map with the
// chain's WillSee would, reusing a mapping of the same extract made for
// the same signature. Every entry's WillSee runs here, for exactly the
// entries Map asks about, so the rules note what they withheld as they
// do uncached. The variant is nil when the mapping is not shared.
func (s *Server) mapShared(ctx context.Context, r *consent.Request, x adapters.Extract, rec *record.Record) (*fhir.Result, *variant, error) {
	var mnow time.Time
	if s.Mapper.Now != nil {
		mnow = s.Mapper.Now()
	}
	sig, kept, ok := s.signature(ctx, r, rec, mnow)
	// The Patient is this request's: its demographics were read live.
	own, err := s.Mapper.Map(&record.Record{Patient: rec.Patient}, nil)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		if v := s.Cache.variant(x, sig); v != nil {
			res := *v.res
			res.Patient = own.Patient
			return &res, v, nil
		}
	}
	m := *s.Mapper
	if m.Now != nil {
		m.Now = func() time.Time { return mnow } // the instant the signature judged
	}
	asked := true
	res, err := m.Map(rec, func(e *record.Entry) bool {
		k, known := kept[e]
		if !known {
			// Map asked about an entry the signature did not: answer
			// it, and share nothing mapped this way.
			asked = false
			return s.Chain.WillSee(ctx, r, e)
		}
		return k
	})
	if err != nil {
		return nil, nil, err
	}
	if !ok || !asked {
		return res, nil, nil
	}
	shared := *rec // the entries are this request's and are not changed after Tag
	v := s.Cache.keepVariant(x, sig, &shared, res)
	return res, v, nil
}

// signature writes down everything about this request and this moment
// that mapping rec depends on, entry by entry: whether Map asks about it
// (a shown kind, not set aside by a rule), and if so whether the chain's
// WillSee keeps it; its views and its NotShown rule (record.Tag, from the
// clock); and whether its end date has passed at mnow (the mapper shows an
// authorisation still called active as completed then). kept holds
// WillSee's answers. ok is false when a view has no bit (nothing is shared).
func (s *Server) signature(ctx context.Context, r *consent.Request, rec *record.Record, mnow time.Time) (sig []byte, kept map[*record.Entry]bool, ok bool) {
	ok = true
	sig = make([]byte, 0, len(rec.Patient.NHSNumber)+2+6*len(rec.Entries))
	sig = append(sig, rec.Patient.NHSNumber...)
	if rec.Withheld {
		sig = append(sig, 1)
	} else {
		sig = append(sig, 0)
	}
	kept = make(map[*record.Entry]bool, len(rec.Entries))
	for i := range rec.Entries {
		e := &rec.Entries[i]
		var flags byte
		if e.Kind != record.KindNone && e.NotShown.Shown() {
			flags |= 1
			k := s.Chain.WillSee(ctx, r, e)
			kept[e] = k
			if k {
				flags |= 2
			}
		}
		if !mnow.IsZero() && !e.End.IsZero() && e.End.Until().Before(mnow) {
			flags |= 4
		}
		var mask uint16
		for _, v := range e.Views {
			b, known := viewBit[v]
			if !known {
				ok = false
			}
			mask |= b
		}
		sig = append(sig, flags, byte(mask), byte(mask>>8), byte(len(e.NotShown)))
		sig = append(sig, e.NotShown...)
	}
	return sig, kept, ok
}

// keyView holds the request's patientView, so that the response encodes
// shared resources through the cache.
const keyView = "mig.patientView"

// encodeResource returns rs's JSON for this request, labelled for
// emergency access when the request is one. Use it, never markEmergency on
// a Result's protos: with a cache they are shared with other requests.
func (s *Server) encodeResource(c echo.Context, rs fhir.Resource, emergency bool) ([]byte, error) {
	pv, _ := c.Get(keyView).(*patientView)
	if pv == nil || pv.shared == nil {
		return encodeOwn(rs.Proto, emergency)
	}
	return pv.shared.encode(s.Cache, rs, emergency)
}
