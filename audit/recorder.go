package audit

import (
	"context"
	"errors"
	"maps"
	"net"
	"sync"
	"time"

	"mig"
	"mig/adapters/record"
	"mig/consent"
)

// RecorderOptions tune the Recorder. Zero values take the defaults.
type RecorderOptions struct {
	// Now stamps requests that carry no time (default time.Now).
	Now func() time.Time
	// Timeout bounds one append. The append runs on a context of its own
	// (the request's values, never its cancellation), so a client that
	// hangs up cannot cancel its audit record (default 10 s).
	Timeout time.Duration
	// Window is the period over which unauthenticated refusals from one
	// source are combined (default 1 minute; negative: never combined).
	Window time.Duration
	// MaxSources bounds the sources combined one by one in a window
	// (default 1,000); refusals from further sources share one count. At
	// most 2 x (MaxSources + 1) events per window are written for
	// unauthenticated refusals, whatever their number.
	MaxSources int
	// Space, if set, applies the data directory's free-space floors.
	Space *Space
	// OnFlushError, if set, is told when a combined event could not be
	// written (it is kept and tried again at the next flush).
	OnFlushError func(err error)
}

// Recorder is the last link of the consent chain: its Complete hook turns
// every request, allowed or refused, into AuditEvents and appends them
// durably. If the append fails, Complete fails and no data is released.
//
// Unauthenticated refusals are combined: the first from a source (an IPv4
// address, an IPv6 /64) in a window is written at once, like any refusal,
// before its answer leaves; later ones in that window are only counted, and
// one combined event with the count is written when the window closes (or
// at Flush). Those counts are the only thing the Recorder holds in memory:
// they are this node's own tally (a second node keeps its own and writes
// its own combined events), and a crash loses at most one window of counts
// of refusals that released nothing.
type Recorder struct {
	store Store
	now   func() time.Time
	opt   RecorderOptions

	mu      sync.Mutex
	windows map[time.Time]map[string]*tally // window start -> source key -> tally
}

// tally is one source's unauthenticated refusals, or one user's overload
// refusals, in one window.
type tally struct {
	refusals int // beyond the first, which was written on its own
	kind     refusalKind
}

// refusalKind says which refusals a tally combines.
type refusalKind struct {
	who *consent.Principal // nil: unauthenticated
}

// anyone is the source key shared by refusals counted together: from
// sources beyond MaxSources, and from every source once space is low;
// anyoneOverloaded is its counterpart for overload refusals.
const (
	anyone           = "*"
	anyoneOverloaded = "overloaded *"
)

// combinedKey says whether r is a refusal combined with others like it,
// and under which key: an unauthenticated refusal by its source; a refusal
// by admission control (mig.EOVERLOADED: the node was full, nothing was
// done) by user and organisation, so that an overload cannot turn every
// refused request into an audit write, the work it sheds.
func combinedKey(r *consent.Request) (string, refusalKind, bool) {
	if r.Principal == nil {
		return SourceKey(r.SourceIP), refusalKind{}, true
	}
	if mig.ErrorCode(r.Decision.Err) == mig.EOVERLOADED {
		p := r.Principal
		return "overloaded " + p.OrgODS + " " + p.UserID, refusalKind{who: p}, true
	}
	return "", refusalKind{}, false
}

var _ consent.Service = (*Recorder)(nil)

// NewRecorder returns a Recorder appending to store.
func NewRecorder(store Store, opts RecorderOptions) *Recorder {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Window == 0 {
		opts.Window = time.Minute
	}
	if opts.MaxSources <= 0 {
		opts.MaxSources = 1000
	}
	return &Recorder{store: store, now: opts.Now, opt: opts, windows: map[time.Time]map[string]*tally{}}
}

// Start refuses every request, before any work, when the data directory is
// under its hard free-space floor.
func (rc *Recorder) Start(context.Context, *consent.Request) consent.Decision {
	if rc.opt.Space.Level() == SpaceExhausted {
		return consent.Decision{Verdict: consent.Reject, Rule: "audit", Err: spaceExhausted()}
	}
	return consent.Decision{Verdict: consent.Proceed}
}

// ErrSpaceFloor is wrapped by the error of a request refused because the
// data directory is under its hard free-space floor. The crossing is
// logged once (Space.OnChange); callers need not log each refusal.
var ErrSpaceFloor = errors.New("data directory under its free-space floor")

func spaceExhausted() error {
	return &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueAuditUnavailable,
		Message: "the audit store's disk is below its free-space floor, so nothing can be audited or released; try again later",
		Err:     ErrSpaceFloor}
}

// CanSee has no opinion.
func (*Recorder) CanSee(context.Context, *consent.Request, *record.Record) consent.Decision {
	return consent.Decision{Verdict: consent.Proceed}
}

// WillSee withholds nothing.
func (*Recorder) WillSee(context.Context, *consent.Request, *record.Entry) bool { return true }

// Complete appends the request's AuditEvent (or, for an unauthenticated
// refusal after the first from its source in this window, counts it). Its
// error is a *mig.Error EUNAVAILABLE (AUDIT_UNAVAILABLE). The append is
// not cancelled when ctx is: only by its own Timeout.
func (rc *Recorder) Complete(ctx context.Context, r *consent.Request) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rc.opt.Timeout)
	defer cancel()
	level := rc.opt.Space.Level()
	if level == SpaceExhausted {
		return spaceExhausted()
	}
	var undo func()
	if key, kind, ok := combinedKey(r); ok && rc.opt.Window > 0 {
		t := r.Time
		if t.IsZero() {
			t = rc.now()
		}
		first, u := rc.count(t, key, kind, level == SpaceLow)
		if !first {
			return nil
		}
		undo = u
	}
	if _, err := rc.store.Append(ctx, Events(r, rc.now)...); err != nil {
		if undo != nil {
			undo()
		}
		return &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueAuditUnavailable,
			Message: "audit record could not be written", Err: err}
	}
	return nil
}

// count tallies an unauthenticated refusal at t from source key. It
// reports whether it is the first of its window (to be written on its own)
// and, if so, how to forget it should that write fail. With onlyCount (space
// is low) every source shares one tally and nothing is first.
func (rc *Recorder) count(t time.Time, key string, kind refusalKind, onlyCount bool) (first bool, undo func()) {
	start := t.UTC().Truncate(rc.opt.Window)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	w := rc.windows[start]
	if w == nil {
		w = map[string]*tally{}
		rc.windows[start] = w
	}
	if _, ok := w[key]; onlyCount || !ok && len(w) >= rc.opt.MaxSources {
		key = anyone
		if kind.who != nil {
			key, kind = anyoneOverloaded, refusalKind{who: &consent.Principal{}}
		}
	}
	if tl, ok := w[key]; ok || onlyCount {
		if !ok {
			tl = &tally{kind: kind}
			w[key] = tl
		}
		tl.refusals++
		return false, nil
	}
	w[key] = &tally{kind: kind}
	return true, func() {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if tl, ok := w[key]; ok && tl.refusals == 0 {
			delete(w, key)
		}
	}
}

// SourceKey is the source unauthenticated refusals are combined by: the
// IPv4 address, or the /64 network of an IPv6 address (one host usually
// holds a whole /64).
func SourceKey(ip string) string {
	a := net.ParseIP(ip)
	if a == nil {
		return ip
	}
	if a4 := a.To4(); a4 != nil {
		return a4.String()
	}
	return (&net.IPNet{IP: a.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

// Flush writes one combined event for each source with counted refusals in
// every window closed at now (every window, with all), and forgets them.
// Events that cannot be written (or not now: the disk is under its hard
// floor) are kept for the next flush.
func (rc *Recorder) Flush(ctx context.Context, now time.Time, all bool) error {
	if rc.opt.Space.Level() == SpaceExhausted {
		return spaceExhausted() // kept until there is room again
	}
	rc.mu.Lock()
	var events []*Event
	closed := map[time.Time]map[string]*tally{}
	for start, w := range rc.windows {
		if !all && now.Before(start.Add(rc.opt.Window)) {
			continue
		}
		closed[start] = w
		delete(rc.windows, start)
		for key, tl := range w {
			if tl.refusals == 0 {
				continue
			}
			events = append(events, combined(start, start.Add(rc.opt.Window), key, tl))
		}
	}
	rc.mu.Unlock()
	if len(events) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rc.opt.Timeout)
	defer cancel()
	if _, err := rc.store.Append(ctx, events...); err != nil {
		rc.mu.Lock()
		for start, w := range closed {
			cur := rc.windows[start]
			if cur == nil {
				rc.windows[start] = w
				continue
			}
			for key, tl := range w {
				if c, ok := cur[key]; ok {
					c.refusals += tl.refusals
				} else {
					cur[key] = tl
				}
			}
		}
		rc.mu.Unlock()
		return err
	}
	return nil
}

// combined is the event for tl's further refusals in the window [from,
// to): unauthenticated ones from the source key, or overload refusals of
// one user (of every user beyond MaxSources, or once space is low).
func combined(from, to time.Time, key string, tl *tally) *Event {
	e := &Event{
		Time: to, Since: from, Refusals: tl.refusals,
		Type: TypeSecurity, Action: "E", Outcome: OutcomeSeriousFail,
		OutcomeDesc:  "authentication unauthenticated-refusals-combined",
		PurposeOfUse: "TREAT",
	}
	if p := tl.kind.who; p != nil {
		e.Type, e.Subtype = TypeRest, "operation"
		e.OutcomeDesc = "admission overloaded-refusals-combined"
		e.UserID, e.RoleCode, e.OrgODS = p.UserID, p.RoleCode, p.OrgODS
		return e
	}
	if key != anyone {
		e.SourceIP = key
	}
	return e
}

// Run flushes closed windows until ctx ends, then flushes every window.
func (rc *Recorder) Run(ctx context.Context) {
	if rc.opt.Window <= 0 {
		return
	}
	every := rc.opt.Window / 4
	if every < 100*time.Millisecond {
		every = 100 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := rc.Flush(context.Background(), rc.now(), true); err != nil && rc.opt.OnFlushError != nil {
				rc.opt.OnFlushError(err)
			}
			return
		case <-t.C:
			if err := rc.Flush(ctx, rc.now(), false); err != nil && rc.opt.OnFlushError != nil {
				rc.opt.OnFlushError(err)
			}
		}
	}
}

// interaction maps an operation to its restful-interaction subtype and action.
func interaction(op consent.Operation) (subtype, action string) {
	switch op {
	case consent.OpRead, consent.OpAgreementRead:
		return "read", "R"
	case consent.OpSearch, consent.OpConsentSearch, consent.OpAuditSearch:
		return "search-type", "E"
	case consent.OpEverything, consent.OpView, consent.OpAuditExport:
		return "operation", "E"
	case consent.OpConsentRecord:
		return "create", "C"
	case consent.OpAgreementAdmin:
		return "update", "U"
	case consent.OpCapabilities:
		return "capabilities", "R"
	}
	return "operation", "E"
}

// Events builds the AuditEvents for one request: one per patient touched
// (a request names at most one patient), or one without a patient.
func Events(r *consent.Request, now func() time.Time) []*Event {
	e := &Event{
		Time:         r.Time,
		Type:         TypeRest,
		Outcome:      OutcomeSuccess,
		SourceIP:     r.SourceIP,
		RequestID:    r.ID,
		PurposeOfUse: "TREAT",
		NHSNumber:    r.NHSNumber,
		Practice:     r.Practice,
		AgreementID:  r.AgreementID,
		Query:        r.Query,
		Operation:    string(r.Operation),
		Resource:     r.Type,
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	e.Subtype, e.Action = interaction(r.Operation)
	if p := r.Principal; p != nil {
		e.UserID, e.UserName, e.RoleCode, e.RoleProfileID = p.UserID, p.Name, p.RoleCode, p.RoleProfileID
		e.OrgODS, e.ClientID = p.OrgODS, p.ClientID
	}
	switch {
	case r.Emergency || (r.ViewConsent != nil && r.ViewConsent.Emergency):
		e.Consent = "emergency"
		e.PurposeOfUse = "ETREAT"
		e.Emergency = "unspecified"
		if r.ViewConsent != nil && r.ViewConsent.EmergencyReason != "" {
			e.Emergency = r.ViewConsent.EmergencyReason
		}
	case r.ViewConsent != nil && r.ViewConsent.Given:
		e.Consent = "given"
	case r.ViewConsent != nil:
		e.Consent = "refused"
	}
	if r.Operation == consent.OpConsentRecord {
		e.Type = TypeSecurity // a consent decision
	}
	if r.Decision.Verdict == consent.Reject || r.Decision.Err != nil {
		code, issue := mig.ErrorCode(r.Decision.Err), mig.ErrorIssue(r.Decision.Err)
		if code == "" {
			code = mig.EFORBIDDEN
		}
		desc := r.Decision.Rule
		if issue == "" {
			issue = code
		}
		if desc != "" {
			desc += " "
		}
		e.OutcomeDesc = desc + issue
		if issue == mig.IssueGPSystemUnavailable {
			code = mig.EUNAVAILABLE // the GP system's failure, not the client's
		}
		switch code {
		case mig.EFORBIDDEN, mig.EUNAUTHORIZED:
			e.Type, e.Outcome = TypeSecurity, OutcomeSeriousFail
			if r.Decision.Rule == "view-consent" && e.Consent == "" {
				e.Consent = "none"
			}
		case mig.EUNAVAILABLE, mig.ETIMEOUT, mig.EINTERNAL, mig.EOVERLOADED:
			e.Outcome = OutcomeSeriousFail
		default:
			e.Outcome = OutcomeMinorFailure
		}
		e.Released = nil
	} else {
		e.Released = maps.Clone(r.Released)
	}
	if r.Principal == nil && e.Outcome == OutcomeSuccess {
		e.Outcome = OutcomeMinorFailure
		if e.OutcomeDesc == "" {
			e.OutcomeDesc = "authentication " + mig.EUNAUTHORIZED
		}
	}
	return []*Event{e}
}
