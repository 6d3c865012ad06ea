package consent

import (
	"context"

	"mig"
	"mig/adapters/record"
)

// Chain is the ordered list of services every request passes through
// (HAPI FHIR ConsentInterceptor semantics, deny by default). The audit
// recorder is the last service.
type Chain []Service

// RuleDefault names the chain's own refusal when no service authorised the
// patient stage.
const RuleDefault = "default-deny"

// Start runs the services' Start hooks in order. A Reject stops and
// refuses; an Authorized stops and means the request is fully authorised
// without a patient stage (consent search, agreement reads, audit search);
// when every service proceeds, the request needs the patient stage: the
// caller must run CanSee before releasing patient data. The decision is
// also recorded in r.Decision.
func (c Chain) Start(ctx context.Context, r *Request) Decision {
	for _, s := range c {
		d := s.Start(ctx, r)
		switch d.Verdict {
		case Reject:
			return c.final(r, ensureErr(d))
		case Authorized:
			return c.final(r, d)
		}
	}
	return c.final(r, Decision{Verdict: Proceed})
}

// CanSee runs the services' CanSee hooks in order once the patient's record
// is read. A Reject stops and refuses; an Authorized stops and allows; when
// every service proceeds, the request is refused (deny by default: some rule
// must positively authorise). The decision is recorded in r.Decision.
func (c Chain) CanSee(ctx context.Context, r *Request, rec *record.Record) Decision {
	for _, s := range c {
		d := s.CanSee(ctx, r, rec)
		switch d.Verdict {
		case Reject:
			return c.final(r, ensureErr(d))
		case Authorized:
			return c.final(r, d)
		}
	}
	return c.final(r, Decision{Verdict: Reject, Rule: RuleDefault,
		Err: mig.Refusal(mig.IssueAccessDenied, "no access rule authorised this request")})
}

// WillSee reports whether the entry may be released: every service must
// agree. Every service is asked, so each can note what it withheld.
func (c Chain) WillSee(ctx context.Context, r *Request, e *record.Entry) bool {
	ok := true
	for _, s := range c {
		if !s.WillSee(ctx, r, e) {
			ok = false
		}
	}
	return ok
}

// Complete runs every service's Complete hook in order, with the final
// decision in r.Decision, and returns the first error. Services after a
// failing one still run.
func (c Chain) Complete(ctx context.Context, r *Request) error {
	var first error
	for _, s := range c {
		if err := s.Complete(ctx, r); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (c Chain) final(r *Request, d Decision) Decision {
	if r != nil {
		r.Decision = d
	}
	return d
}

// ensureErr makes sure a Reject carries an error and a rule name.
func ensureErr(d Decision) Decision {
	if d.Err == nil {
		d.Err = mig.Refusal(mig.IssueAccessDenied, "access denied")
	}
	if d.Rule == "" {
		d.Rule = "unnamed"
	}
	return d
}

// Base is a Service that proceeds at every hook, allows every entry and
// does nothing at completion. Rules embed it and override the hooks they
// use.
type Base struct{}

// Start proceeds.
func (Base) Start(context.Context, *Request) Decision { return Decision{Verdict: Proceed} }

// CanSee proceeds.
func (Base) CanSee(context.Context, *Request, *record.Record) Decision {
	return Decision{Verdict: Proceed}
}

// WillSee allows.
func (Base) WillSee(context.Context, *Request, *record.Entry) bool { return true }

// Complete does nothing.
func (Base) Complete(context.Context, *Request) error { return nil }
