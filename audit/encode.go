package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// MaxQueryBytes bounds the query an AuditEvent keeps. A longer query (a
// client may send up to the server's request-line cap, or a 64 KiB form
// body) is stored as its first MaxQueryBytes bytes, cut at a character
// boundary, with the SHA-256 and length of the whole query beside it: an
// auditor can still tell two long queries apart and check a copy of one,
// and no client can make one event large. 2 KiB holds every query the API
// accepts in practice (an NHS number search is under 100 bytes, a cursor
// under 200).
const MaxQueryBytes = 2 << 10

// maxResourceBytes bounds the requested type kept in an event.
const maxResourceBytes = 64

// BoundQuery returns the part of q an AuditEvent stores and, when q was
// cut, the hex SHA-256 of the whole of q.
func BoundQuery(q string) (kept, sum string) {
	if len(q) <= MaxQueryBytes {
		return q, ""
	}
	n := MaxQueryBytes
	for n > 0 && !utf8.RuneStart(q[n]) {
		n--
	}
	h := sha256.Sum256([]byte(q))
	return q[:n], hex.EncodeToString(h[:])
}

// Code systems and identifier systems used in AuditEvents.
const (
	SystemAuditEventType    = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	SystemRestfulInteract   = "http://hl7.org/fhir/restful-interaction"
	SystemDICOM             = "http://dicom.nema.org/resources/ontology/DCM"
	SystemActReason         = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	SystemParticipationType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	SystemRoleClass         = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
	SystemEntityType        = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	SystemObjectRole        = "http://terminology.hl7.org/CodeSystem/object-role"
	SystemSourceType        = "http://terminology.hl7.org/CodeSystem/security-source-type"
	SystemBALPEntityType    = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
	SystemNHSNumber         = "https://fhir.nhs.uk/Id/nhs-number"
	SystemSDSUser           = "https://fhir.nhs.uk/Id/sds-user-id"
	SystemSDSRoleProfile    = "https://fhir.nhs.uk/Id/sds-role-profile-id"
	SystemSDSRoleCode       = "https://fhir.nhs.uk/Id/sds-role-code"
	SystemODS               = "https://fhir.nhs.uk/Id/ods-organization-code"
	SystemAgreement         = "https://mig.example.nhs.uk/Id/sharing-agreement"
	SystemViewConsent       = "https://mig.example.nhs.uk/Id/view-consent"
	SystemClient            = "https://mig.example.nhs.uk/Id/client-id"
	SystemGateway           = "https://mig.example.nhs.uk/Id/gateway"
	SystemEmergencyReason   = "https://mig.example.nhs.uk/CodeSystem/emergency-access-reason"

	ProfilePatientRead  = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead"
	ProfilePatientQuery = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientQuery"
	ProfileRead         = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Read"
	ProfileQuery        = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Query"
)

// Event types and the emergency subtype (Event.Type / Event.Subtype).
const (
	TypeRest                 = "rest"
	TypeSecurity             = "security"
	SubtypeEmergencyOverride = "emergency-override-started"
)

// restful-interaction codes accepted as Event.Subtype.
var restfulInteractions = map[string]bool{
	"read": true, "vread": true, "update": true, "patch": true, "delete": true,
	"history": true, "history-instance": true, "history-type": true, "history-system": true,
	"create": true, "search": true, "search-type": true, "search-system": true,
	"capabilities": true, "transaction": true, "batch": true, "operation": true,
}

// Encoder turns Events into AuditEvent JSON; it names the gateway (the
// observer and the destination agent).
type Encoder struct {
	GatewayID      string // identifier of this gateway node (system SystemGateway)
	GatewayAddress string // its network address (host name or IP)
}

// DefaultEncoder names the gateway "mig" at this host's name.
var DefaultEncoder = func() Encoder {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return Encoder{GatewayID: "mig", GatewayAddress: host}
}()

// Encode returns the AuditEvent for e with DefaultEncoder.
func Encode(id string, e *Event) ([]byte, error) { return DefaultEncoder.Encode(id, e) }

// ErrInvalidEvent is returned (wrapped) by Encode for an event it cannot
// encode faithfully.
var ErrInvalidEvent = errors.New("invalid audit event")

func invalid(what string) error {
	return &encodeError{what: what}
}

type encodeError struct{ what string }

func (e *encodeError) Error() string { return "invalid audit event: " + e.what }
func (e *encodeError) Unwrap() error { return ErrInvalidEvent }

// JSON shapes, in FHIR R4 element order. Field order is fixed by the
// structs and no maps are used, so encoding is canonical.
type (
	coding struct {
		System  string `json:"system,omitempty"`
		Code    string `json:"code,omitempty"`
		Display string `json:"display,omitempty"`
	}
	codeableConcept struct {
		Coding []coding `json:"coding"`
	}
	identifier struct {
		System string `json:"system,omitempty"`
		Value  string `json:"value"`
	}
	reference struct {
		Type       string      `json:"type,omitempty"`
		Identifier *identifier `json:"identifier,omitempty"`
		Display    string      `json:"display,omitempty"`
	}
	meta struct {
		Profile []string `json:"profile,omitempty"`
	}
	network struct {
		Address string `json:"address"`
		Type    string `json:"type"`
	}
	agent struct {
		Type         *codeableConcept  `json:"type,omitempty"`
		Role         []codeableConcept `json:"role,omitempty"`
		Who          *reference        `json:"who,omitempty"`
		Name         string            `json:"name,omitempty"`
		Requestor    bool              `json:"requestor"`
		Network      *network          `json:"network,omitempty"`
		PurposeOfUse []codeableConcept `json:"purposeOfUse,omitempty"`
	}
	sourceEl struct {
		Site     string    `json:"site,omitempty"`
		Observer reference `json:"observer"`
		Type     []coding  `json:"type,omitempty"`
	}
	detail struct {
		Type        string `json:"type"`
		ValueString string `json:"valueString"`
	}
	entity struct {
		What   *reference `json:"what,omitempty"`
		Type   *coding    `json:"type,omitempty"`
		Role   *coding    `json:"role,omitempty"`
		Query  string     `json:"query,omitempty"`
		Detail []detail   `json:"detail,omitempty"`
	}
	auditEvent struct {
		ResourceType   string            `json:"resourceType"`
		ID             string            `json:"id"`
		Meta           *meta             `json:"meta,omitempty"`
		Type           coding            `json:"type"`
		Subtype        []coding          `json:"subtype,omitempty"`
		Action         string            `json:"action,omitempty"`
		Recorded       string            `json:"recorded"`
		Outcome        string            `json:"outcome,omitempty"`
		OutcomeDesc    string            `json:"outcomeDesc,omitempty"`
		PurposeOfEvent []codeableConcept `json:"purposeOfEvent,omitempty"`
		Agent          []agent           `json:"agent"`
		Source         sourceEl          `json:"source"`
		Entity         []entity          `json:"entity,omitempty"`
	}
)

// RecordedLayout is the layout of AuditEvent.recorded (UTC, milliseconds).
const RecordedLayout = "2006-01-02T15:04:05.000Z"

func purpose(code string) codeableConcept {
	display := "treatment"
	if code == "ETREAT" {
		display = "Emergency Treatment"
	}
	return codeableConcept{Coding: []coding{{System: SystemActReason, Code: code, Display: display}}}
}

func isEmergency(e *Event) bool {
	return e.PurposeOfUse == "ETREAT" || e.Emergency != "" || e.Subtype == SubtypeEmergencyOverride
}

// Encode returns the AuditEvent with id for e as canonical FHIR R4 JSON in
// the IHE BALP shape. It holds identifiers, codes and counts only.
func (en Encoder) Encode(id string, e *Event) ([]byte, error) {
	if id == "" {
		return nil, invalid("no id")
	}
	if e.Time.IsZero() {
		return nil, invalid("no time")
	}
	ae := auditEvent{ResourceType: "AuditEvent", ID: id, Recorded: e.Time.UTC().Format(RecordedLayout)}
	switch e.Type {
	case TypeRest, "":
		ae.Type = coding{System: SystemAuditEventType, Code: "rest", Display: "RESTful Operation"}
	case TypeSecurity:
		ae.Type = coding{System: SystemDICOM, Code: "110113", Display: "Security Alert"}
	default:
		return nil, invalid("unknown type")
	}
	switch {
	case e.Subtype == SubtypeEmergencyOverride:
	case restfulInteractions[e.Subtype]:
		ae.Subtype = append(ae.Subtype, coding{System: SystemRestfulInteract, Code: e.Subtype, Display: e.Subtype})
	case e.Subtype == "":
	default:
		return nil, invalid("unknown subtype")
	}
	emergency := isEmergency(e)
	if emergency {
		ae.Subtype = append(ae.Subtype, coding{System: SystemDICOM, Code: "110127", Display: "Emergency Override Started"})
	}
	switch e.Action {
	case "", "C", "R", "U", "D", "E":
		ae.Action = e.Action
	default:
		return nil, invalid("unknown action")
	}
	switch e.Outcome {
	case OutcomeSuccess, OutcomeMinorFailure, OutcomeSeriousFail, OutcomeMajorFailure:
		ae.Outcome = e.Outcome
	case "":
		ae.Outcome = OutcomeSuccess
	default:
		return nil, invalid("unknown outcome")
	}
	ae.OutcomeDesc = e.OutcomeDesc
	if e.Type != TypeSecurity && e.NHSNumber != "" {
		switch e.Subtype {
		case "read", "vread":
			ae.Meta = &meta{Profile: []string{ProfilePatientRead}}
		case "search", "search-type", "search-system", "operation":
			ae.Meta = &meta{Profile: []string{ProfilePatientQuery}}
		}
	}
	pou := "TREAT"
	if emergency {
		pou = "ETREAT"
	}
	ae.PurposeOfEvent = []codeableConcept{purpose(pou)}

	// The user.
	user := agent{
		Type:         &codeableConcept{Coding: []coding{{System: SystemParticipationType, Code: "IRCP", Display: "information recipient"}}},
		Requestor:    true,
		Name:         e.UserName,
		PurposeOfUse: []codeableConcept{purpose(pou)},
	}
	if e.UserID != "" || e.UserName != "" {
		user.Who = &reference{Type: "Practitioner", Display: e.UserName}
		if e.UserID != "" {
			user.Who.Identifier = &identifier{System: SystemSDSUser, Value: e.UserID}
		}
	}
	if e.RoleCode != "" {
		user.Role = append(user.Role, codeableConcept{Coding: []coding{{System: SystemSDSRoleCode, Code: e.RoleCode}}})
	}
	if e.RoleProfileID != "" {
		user.Role = append(user.Role, codeableConcept{Coding: []coding{{System: SystemSDSRoleProfile, Code: e.RoleProfileID}}})
	}
	ae.Agent = append(ae.Agent, user)
	// The user's organisation.
	if e.OrgODS != "" {
		ae.Agent = append(ae.Agent, agent{
			Type: &codeableConcept{Coding: []coding{{System: SystemRoleClass, Code: "PROV", Display: "healthcare provider"}}},
			Who:  &reference{Type: "Organization", Identifier: &identifier{System: SystemODS, Value: e.OrgODS}},
		})
	}
	// The client system.
	client := agent{
		Type: &codeableConcept{Coding: []coding{{System: SystemDICOM, Code: "110153", Display: "Source Role ID"}}},
	}
	if e.ClientID != "" {
		client.Who = &reference{Type: "Device", Identifier: &identifier{System: SystemClient, Value: e.ClientID}}
	}
	if e.SourceIP != "" {
		client.Network = &network{Address: e.SourceIP, Type: "2"}
	}
	ae.Agent = append(ae.Agent, client)
	// The gateway.
	gw := &reference{Type: "Device", Identifier: &identifier{System: SystemGateway, Value: en.GatewayID}}
	server := agent{
		Type: &codeableConcept{Coding: []coding{{System: SystemDICOM, Code: "110152", Display: "Destination Role ID"}}},
		Who:  gw,
	}
	if en.GatewayAddress != "" {
		server.Network = &network{Address: en.GatewayAddress, Type: "1"}
	}
	ae.Agent = append(ae.Agent, server)
	ae.Source = sourceEl{
		Site:     en.GatewayID,
		Observer: *gw,
		Type:     []coding{{System: SystemSourceType, Code: "4", Display: "Application Server"}},
	}

	// Entities.
	if e.NHSNumber != "" {
		pe := entity{
			What: &reference{Type: "Patient", Identifier: &identifier{System: SystemNHSNumber, Value: e.NHSNumber}},
			Type: &coding{System: SystemEntityType, Code: "1", Display: "Person"},
			Role: &coding{System: SystemObjectRole, Code: "1", Display: "Patient"},
		}
		if e.Practice != "" {
			// The patient's registered practice decides which practice's
			// auditors see the event and which GP system is told: in the
			// body, so verification can rebuild it (an insider cannot move
			// events away from a practice unseen).
			pe.Detail = []detail{{Type: "registered-practice", ValueString: e.Practice}}
		}
		ae.Entity = append(ae.Entity, pe)
	}
	if e.AgreementID != "" {
		ae.Entity = append(ae.Entity, entity{
			What: &reference{Type: "Contract", Identifier: &identifier{System: SystemAgreement, Value: e.AgreementID}},
			Type: &coding{System: SystemEntityType, Code: "2", Display: "System Object"},
			Role: &coding{System: SystemObjectRole, Code: "13", Display: "Security Resource"},
		})
	}
	if e.Consent != "" || e.Emergency != "" {
		c := entity{
			Type: &coding{System: SystemEntityType, Code: "2", Display: "System Object"},
			Role: &coding{System: SystemObjectRole, Code: "13", Display: "Security Resource"},
		}
		if e.Consent != "" {
			c.Detail = append(c.Detail, detail{Type: "consent", ValueString: e.Consent})
		}
		if e.Emergency != "" {
			c.Detail = append(c.Detail, detail{Type: "emergency-reason", ValueString: e.Emergency})
		}
		ae.Entity = append(ae.Entity, c)
	}
	if e.Query != "" {
		kept, sum := BoundQuery(e.Query)
		q := entity{
			Type:  &coding{System: SystemEntityType, Code: "2", Display: "System Object"},
			Role:  &coding{System: SystemObjectRole, Code: "24", Display: "Query"},
			Query: base64.StdEncoding.EncodeToString([]byte(kept)),
		}
		if sum != "" {
			q.Detail = []detail{{Type: "query-sha256", ValueString: sum}, {Type: "query-length", ValueString: strconv.Itoa(len(e.Query))}}
		}
		ae.Entity = append(ae.Entity, q)
	}
	if e.Refusals > 0 {
		ae.Entity = append(ae.Entity, entity{
			Type: &coding{System: SystemEntityType, Code: "2", Display: "System Object"},
			Detail: []detail{
				{Type: "combined-refusals", ValueString: strconv.Itoa(e.Refusals)},
				{Type: "window-start", ValueString: e.Since.UTC().Format(RecordedLayout)},
				{Type: "window-end", ValueString: e.Time.UTC().Format(RecordedLayout)},
			},
		})
	}
	if len(e.Released) > 0 {
		d := entity{
			Type: &coding{System: SystemEntityType, Code: "2", Display: "System Object"},
			Role: &coding{System: SystemObjectRole, Code: "4", Display: "Domain Resource"},
		}
		types := make([]string, 0, len(e.Released))
		for t := range e.Released {
			types = append(types, t)
		}
		sort.Strings(types)
		for _, t := range types {
			d.Detail = append(d.Detail, detail{Type: t, ValueString: strconv.Itoa(e.Released[t])})
		}
		ae.Entity = append(ae.Entity, d)
	}
	if e.Operation != "" || e.Resource != "" {
		op := entity{Type: &coding{System: SystemEntityType, Code: "2", Display: "System Object"}}
		if e.Operation != "" {
			op.Detail = append(op.Detail, detail{Type: "operation", ValueString: e.Operation})
		}
		if e.Resource != "" {
			res := e.Resource
			if len(res) > maxResourceBytes {
				res = "(too long)"
			}
			op.Detail = append(op.Detail, detail{Type: "requested-type", ValueString: res})
		}
		ae.Entity = append(ae.Entity, op)
	}
	if e.RequestID != "" {
		ae.Entity = append(ae.Entity, entity{
			What: &reference{Identifier: &identifier{Value: e.RequestID}},
			Type: &coding{System: SystemBALPEntityType, Code: "XrequestId", Display: "request id"},
		})
	}
	return json.Marshal(&ae)
}

// Summary fields read back from a stored AuditEvent, for reports and
// filters. Decode is the inverse of Encode for the fields it names.
type Decoded struct {
	ID              string
	Time            time.Time
	Type            string // rest or security
	Subtype         string // the restful interaction, if any
	Emergency       bool
	Action          string
	Outcome         string
	OutcomeDesc     string
	UserID          string
	UserName        string
	RoleCode        string
	OrgODS          string
	ClientID        string
	NHSNumber       string
	Practice        string // the patient's registered practice, in events written since it is in the body
	AgreementID     string
	Consent         string
	EmergencyReason string
	RequestID       string
	Released        map[string]int
	// Refusals is, for a combined event, the unauthenticated refusals from
	// its source in its window beyond the first (which has its own event).
	Refusals int
	// QuerySHA256 is set when the stored query is a prefix of a longer one.
	QuerySHA256 string
}

// Decode reads the fields of a stored AuditEvent body that reports need.
func Decode(body []byte) (*Decoded, error) {
	var ae auditEvent
	if err := json.Unmarshal(body, &ae); err != nil {
		return nil, invalid("body is not an AuditEvent")
	}
	if ae.ResourceType != "AuditEvent" {
		return nil, invalid("body is not an AuditEvent")
	}
	t, err := time.Parse(time.RFC3339Nano, ae.Recorded)
	if err != nil {
		return nil, invalid("bad recorded time")
	}
	d := &Decoded{ID: ae.ID, Time: t, Action: ae.Action, Outcome: ae.Outcome, OutcomeDesc: ae.OutcomeDesc, Type: TypeRest}
	if ae.Type.Code == "110113" {
		d.Type = TypeSecurity
	}
	for _, s := range ae.Subtype {
		switch {
		case s.System == SystemRestfulInteract:
			d.Subtype = s.Code
		case s.System == SystemDICOM && s.Code == "110127":
			d.Emergency = true
		}
	}
	for _, a := range ae.Agent {
		if a.Type == nil || len(a.Type.Coding) == 0 {
			continue
		}
		switch a.Type.Coding[0].Code {
		case "IRCP":
			d.UserName = a.Name
			if a.Who != nil && a.Who.Identifier != nil {
				d.UserID = a.Who.Identifier.Value
			}
			for _, r := range a.Role {
				if len(r.Coding) > 0 && r.Coding[0].System == SystemSDSRoleCode {
					d.RoleCode = r.Coding[0].Code
				}
			}
		case "PROV":
			if a.Who != nil && a.Who.Identifier != nil {
				d.OrgODS = a.Who.Identifier.Value
			}
		case "110153":
			if a.Who != nil && a.Who.Identifier != nil {
				d.ClientID = a.Who.Identifier.Value
			}
		}
	}
	for _, en := range ae.Entity {
		switch {
		case en.What != nil && en.What.Identifier != nil && en.What.Identifier.System == SystemNHSNumber:
			d.NHSNumber = en.What.Identifier.Value
			for _, dt := range en.Detail {
				if dt.Type == "registered-practice" {
					d.Practice = dt.ValueString
				}
			}
		case en.What != nil && en.What.Identifier != nil && en.What.Identifier.System == SystemAgreement:
			d.AgreementID = en.What.Identifier.Value
		case en.Type != nil && en.Type.Code == "XrequestId" && en.What != nil && en.What.Identifier != nil:
			d.RequestID = en.What.Identifier.Value
		case en.Role != nil && en.Role.Code == "13":
			for _, dt := range en.Detail {
				switch dt.Type {
				case "consent":
					d.Consent = dt.ValueString
				case "emergency-reason":
					d.EmergencyReason = dt.ValueString
				}
			}
		case en.Role != nil && en.Role.Code == "24":
			for _, dt := range en.Detail {
				if dt.Type == "query-sha256" {
					d.QuerySHA256 = dt.ValueString
				}
			}
		case en.Role == nil && len(en.Detail) > 0 && en.Detail[0].Type == "combined-refusals":
			n, err := strconv.Atoi(en.Detail[0].ValueString)
			if err != nil {
				return nil, invalid("bad count")
			}
			d.Refusals = n
		case en.Role != nil && en.Role.Code == "4":
			for _, dt := range en.Detail {
				n, err := strconv.Atoi(dt.ValueString)
				if err != nil {
					return nil, invalid("bad count")
				}
				if d.Released == nil {
					d.Released = map[string]int{}
				}
				d.Released[dt.Type] = n
			}
		}
	}
	return d, nil
}
