package devidp

import (
	"strings"

	"mig"
)

// Identity is who a development token speaks for.
type Identity struct {
	User string // user id: nhsid_useruid and sub
	Role string // national RBAC role code, e.g. R8000
	Org  string // ODS code of the role's organisation, e.g. RX999
	Name string // display name
}

// roleCodes are the roles offered in the login form, in order.
var roleCodes = []string{"R8000", "R8001", "R8003", "R8016", "R8004", "R8008", "R8009", "R0001", "R5105"}

// orgCodes are the demo organisations offered in the login form, in order.
var orgCodes = []string{"RX999", "NX999", "ZZ999", "A99901", "A99902", "A99903"}

// RoleName returns the name of a role code, or the code itself when it is
// not one of the form's roles.
func RoleName(code string) string {
	switch code {
	case "R8000":
		return "Clinical Practitioner Access Role"
	case "R8001":
		return "Nurse Access Role"
	case "R8003":
		return "Health Professional Access Role"
	case "R8016":
		return "Midwife Access Role"
	case "R8004":
		return "Healthcare Student Access Role"
	case "R8008":
		return "Admin/Clinical Support Access Role"
	case "R8009":
		return "Receptionist Access Role"
	case "R0001":
		return "Privacy Officer"
	case "R5105":
		return "Caldicott Guardian"
	}
	return code
}

// OrgName returns the name of a demo organisation, or a generic name.
func OrgName(code string) string {
	switch code {
	case "RX999":
		return "Demo Emergency Department"
	case "NX999":
		return "Demo Out-of-Hours Service"
	case "ZZ999":
		return "Demo Organisation In No Agreement"
	case "A99901":
		return "Demo GP Practice (GP2GP)"
	case "A99902":
		return "Demo GP Practice (EMIS)"
	case "A99903":
		return "Demo GP Practice (TPP)"
	}
	return "Organisation " + code
}

// NewIdentity validates and normalises an identity: user 1-64 characters
// of A-Z a-z 0-9 . _ @ -; role R followed by four digits (any such code is
// accepted, so that refusal of unknown roles can be tried); org 3-10
// characters A-Z 0-9 (upper-cased); name up to 100 printable characters
// (default "Development User"). Errors are EINVALID and name the field,
// never its value.
func NewIdentity(user, role, org, name string) (Identity, error) {
	user = strings.TrimSpace(user)
	role = strings.ToUpper(strings.TrimSpace(role))
	org = strings.ToUpper(strings.TrimSpace(org))
	name = strings.TrimSpace(name)
	if !validUser(user) {
		return Identity{}, mig.Errorf(mig.EINVALID, "user must be 1-64 characters of A-Z a-z 0-9 . _ @ -")
	}
	if !validRole(role) {
		return Identity{}, mig.Errorf(mig.EINVALID, "role must be a national RBAC role code such as R8000")
	}
	if !validOrg(org) {
		return Identity{}, mig.Errorf(mig.EINVALID, "org must be an ODS code of 3-10 letters and digits")
	}
	if name == "" {
		name = "Development User"
	}
	if !validName(name) {
		return Identity{}, mig.Errorf(mig.EINVALID, "name must be at most 100 printable characters")
	}
	return Identity{User: user, Role: role, Org: org, Name: name}, nil
}

func validUser(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._@-", c) >= 0) {
			return false
		}
	}
	return true
}

func validRole(s string) bool {
	if len(s) != 5 || s[0] != 'R' {
		return false
	}
	for _, c := range []byte(s[1:]) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func validOrg(s string) bool {
	if len(s) < 3 || len(s) > 10 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func validName(s string) bool {
	n := 0
	for _, r := range s {
		n++
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\uFFFD' {
			return false
		}
	}
	return n <= 100
}

// claims are the CIS2 claims of the identity (one role, selected).
func (id Identity) claims() map[string]any {
	roleID := stableDigits("role", id.User, id.Role, id.Org)
	return map[string]any{
		"nhsid_useruid": id.User,
		"name":          id.Name,
		"nhsid_nrbac_roles": []map[string]any{{
			"person_orgid":  stableDigits("org", id.User, id.Org),
			"person_roleid": roleID,
			"org_code":      id.Org,
			"role_name":     RoleName(id.Role),
			"role_code":     "S0000:G0000:" + id.Role,
		}},
		"selected_roleid": roleID,
		"nhsid_user_orgs": []map[string]any{{"org_code": id.Org, "org_name": OrgName(id.Org)}},
	}
}
