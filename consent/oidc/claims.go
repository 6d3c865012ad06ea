package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"mig/consent"
)

// claims are the token claims MIG reads (NHS CIS2 names).
type claims struct {
	Issuer     string       `json:"iss"`
	Subject    string       `json:"sub"`
	Audience   audience     `json:"aud"`
	Expiry     *numericDate `json:"exp"`
	NotBefore  *numericDate `json:"nbf"`
	IssuedAt   *numericDate `json:"iat"`
	AZP        string       `json:"azp"`
	ClientID   string       `json:"client_id"`
	UserUID    flexString   `json:"nhsid_useruid"`
	Name       string       `json:"name"`
	GivenName  string       `json:"given_name"`
	FamilyName string       `json:"family_name"`
	Selected   flexString   `json:"selected_roleid"`
	Roles      []nrbacRole  `json:"nhsid_nrbac_roles"`
	UserOrgs   []userOrg    `json:"nhsid_user_orgs"`
}

// nrbacRole is one entry of nhsid_nrbac_roles.
type nrbacRole struct {
	PersonOrgID  flexString `json:"person_orgid"`
	PersonRoleID flexString `json:"person_roleid"`
	OrgCode      string     `json:"org_code"`
	RoleName     string     `json:"role_name"`
	RoleCode     string     `json:"role_code"`
}

// userOrg is one entry of nhsid_user_orgs.
type userOrg struct {
	OrgCode string `json:"org_code"`
	OrgName string `json:"org_name"`
}

// principal builds the Principal. The selected role is the entry of
// nhsid_nrbac_roles whose person_roleid equals selected_roleid; without one
// the role and organisation fields stay empty.
func (c *claims) principal() *consent.Principal {
	p := &consent.Principal{
		Subject:  c.Subject,
		UserID:   string(c.UserUID),
		Name:     c.Name,
		ClientID: c.AZP,
		Issuer:   c.Issuer,
	}
	if p.UserID == "" {
		p.UserID = c.Subject
	}
	if p.Name == "" {
		p.Name = strings.TrimSpace(c.GivenName + " " + c.FamilyName)
	}
	if p.ClientID == "" {
		p.ClientID = c.ClientID
	}
	if c.Expiry != nil {
		p.Expiry = c.Expiry.Time()
	}
	if c.Selected == "" {
		return p
	}
	for _, r := range c.Roles {
		if r.PersonRoleID != c.Selected {
			continue
		}
		p.RoleProfileID = string(r.PersonRoleID)
		p.RoleCode = RoleCode(r.RoleCode)
		p.RoleName = r.RoleName
		p.OrgODS = r.OrgCode
		for _, o := range c.UserOrgs {
			if o.OrgCode == r.OrgCode {
				p.OrgName = o.OrgName
				break
			}
		}
		break
	}
	return p
}

// RoleCode returns the national RBAC role of a CIS2 role_code: the last
// colon-separated part ("S8001:G8005:R8000" gives "R8000"; "R8000" gives
// itself).
func RoleCode(roleCode string) string {
	roleCode = strings.TrimSpace(roleCode)
	if i := strings.LastIndexByte(roleCode, ':'); i >= 0 {
		return roleCode[i+1:]
	}
	return roleCode
}

// audience is aud: a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = ss
	return nil
}

// numericDate is a JWT NumericDate (seconds since the epoch, possibly
// fractional).
type numericDate float64

func (d *numericDate) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return errors.New("date claim is not a number")
	}
	*d = numericDate(f)
	return nil
}

// Time returns d as a time.Time.
func (d numericDate) Time() time.Time {
	sec, frac := math.Modf(float64(d))
	return time.Unix(int64(sec), int64(frac*1e9))
}

// flexString accepts a JSON string or number (CIS2 identifiers are numeric
// strings; some issuers emit them as numbers).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("identifier claim is neither a string nor a number")
	}
	if _, err := strconv.ParseFloat(string(n), 64); err != nil {
		return errors.New("identifier claim is not a number")
	}
	*f = flexString(n.String())
	return nil
}
