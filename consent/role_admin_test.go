package consent_test

import (
	"context"
	"testing"

	"mig"
	"mig/consent"
)

// An administrator (who can change who may see what) sees no clinical data,
// whatever clinical role the token selects; administering still works.
func TestRoleAdminSeesNoClinicalData(t *testing.T) {
	ro := consent.Role{ClinicalRoles: []string{"R8000"}, AuditorRoles: []string{"R0001"}, AdminUsers: []string{"admin-1"}}
	admin := &consent.Principal{UserID: "admin-1", RoleCode: "R8000", OrgODS: "RX999"}
	clin := &consent.Principal{UserID: "clin-1", RoleCode: "R8000", OrgODS: "RX999"}
	for _, tt := range []struct {
		p    *consent.Principal
		op   consent.Operation
		want consent.Verdict
	}{
		{admin, consent.OpRead, consent.Reject},
		{admin, consent.OpSearch, consent.Reject},
		{admin, consent.OpEverything, consent.Reject},
		{admin, consent.OpView, consent.Reject},
		{admin, consent.OpConsentRecord, consent.Reject},
		{admin, consent.OpConsentSearch, consent.Reject},
		{admin, consent.OpAgreementAdmin, consent.Authorized},
		{admin, consent.OpAgreementRead, consent.Authorized},
		{clin, consent.OpRead, consent.Proceed},
		{clin, consent.OpConsentRecord, consent.Proceed},
	} {
		r := &consent.Request{Principal: tt.p, Operation: tt.op}
		d := ro.Start(context.Background(), r)
		if d.Verdict != tt.want {
			t.Errorf("%s %s: verdict %v, want %v", tt.p.UserID, tt.op, d.Verdict, tt.want)
		}
		if d.Verdict == consent.Reject && (d.Rule != consent.RuleRole || mig.ErrorIssue(d.Err) != mig.IssueAccessDenied) {
			t.Errorf("%s %s: rule %q issue %q", tt.p.UserID, tt.op, d.Rule, mig.ErrorIssue(d.Err))
		}
		if consent.IsPatientOperation(tt.op) {
			if d := ro.CanSee(context.Background(), r, nil); (d.Verdict == consent.Reject) != (tt.p == admin) {
				t.Errorf("%s %s: CanSee %v", tt.p.UserID, tt.op, d.Verdict)
			}
		}
	}
}
