// Package fhir maps MIG's neutral coded record (adapters/record) to FHIR R4
// resources built on google/fhir/go protos, and writes the JSON the REST
// server sends: resources, Bundles, OperationOutcomes, the
// CapabilityStatement, and the Consent and Contract resources of the
// gateway's own data. It also makes the opaque, keyed resource ids.
//
// Nothing here writes free text from a record: terms (as coding displays),
// names and addresses (Patient only) and a prescription's dosage and
// quantity text (record.DosageText) are the only record text that reaches
// output.
package fhir

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strconv"

	"mig"
)

// idVersion is the format version, kept in the top three bits of the first
// byte of an id block; the lower five bits are the resource type.
const idVersion = 1

// idTypes lists the resource types an id can name; an id stores the index.
// Append only: the index is part of every issued id.
var idTypes = [...]string{
	"Patient", "Condition", "MedicationStatement", "MedicationRequest",
	"AllergyIntolerance", "Observation", "Procedure", "Immunization", "Flag",
	"Encounter", "ServiceRequest", "Consent",
}

func idTypeIndex(t string) (int, bool) {
	for i, s := range idTypes {
		if s == t {
			return i, true
		}
	}
	return 0, false
}

// IDs makes and reads resource ids. An id is one AES-256 block holding the
// resource type, the patient's NHS number, a keyed hash of the source's
// item id and two check bytes: stable for the same key and item, opaque and
// unforgeable without the key, and decodable to the patient it belongs to.
// An IDs is safe for concurrent use.
type IDs struct {
	block cipher.Block
	k1    []byte // keyed hash of type|source id
	k2    []byte // check bytes
}

// NewIDs returns an IDs keyed by a 32-byte secret. The AES key and the two
// HMAC keys are derived from it with HMAC-SHA256 and distinct labels.
func NewIDs(key []byte) (*IDs, error) {
	if len(key) != 32 {
		return nil, mig.Errorf(mig.EINVALID, "resource id key must be 32 bytes, got %d", len(key))
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("mig/fhir/id/aes-256"))
	if err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "resource id cipher", Err: err}
	}
	return &IDs{block: block, k1: derive("mig/fhir/id/source-hash"), k2: derive("mig/fhir/id/check")}, nil
}

// ResourceTypes lists the resource types Resource accepts.
func ResourceTypes() []string { return append([]string(nil), idTypes[:]...) }

// Resource returns the id of the resource of resourceType made from the
// source item sourceID in the record of the patient with NHS number nhs: 32
// lower-case hex characters. It returns "" when nhs is not ten digits or
// resourceType is not one of ResourceTypes (callers check both first; the
// Mapper does).
func (x *IDs) Resource(nhs, resourceType, sourceID string) string {
	t, ok := idTypeIndex(resourceType)
	if !ok || len(nhs) != 10 {
		return ""
	}
	n, err := strconv.ParseUint(nhs, 10, 64)
	if err != nil {
		return ""
	}
	var b [16]byte
	b[0] = idVersion<<5 | byte(t)
	b[1], b[2], b[3], b[4], b[5] = byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	m := hmac.New(sha256.New, x.k1)
	m.Write([]byte(resourceType))
	m.Write([]byte{'|'})
	m.Write([]byte(sourceID))
	copy(b[6:14], m.Sum(nil))
	copy(b[14:16], x.check(b[:14]))
	x.block.Encrypt(b[:], b[:])
	return hex.EncodeToString(b[:])
}

// Patient returns the id of the patient's Patient resource.
func (x *IDs) Patient(nhs string) string { return x.Resource(nhs, "Patient", "") }

func (x *IDs) check(b []byte) []byte {
	m := hmac.New(sha256.New, x.k2)
	m.Write(b)
	return m.Sum(nil)[:2]
}

// Decode returns the NHS number and resource type an id was made for. An id
// of the wrong length or alphabet, made with another key, or altered gives
// a *mig.Error ENOTFOUND that does not say which.
func (x *IDs) Decode(id string) (nhs, resourceType string, err error) {
	notFound := func() (string, string, error) {
		return "", "", mig.Errorf(mig.ENOTFOUND, "no resource has this id")
	}
	if len(id) != 32 {
		return notFound()
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return notFound()
		}
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(id)); err != nil {
		return notFound()
	}
	x.block.Decrypt(b[:], b[:])
	if subtle.ConstantTimeCompare(b[14:16], x.check(b[:14])) != 1 || b[0]>>5 != idVersion {
		return notFound()
	}
	t := int(b[0] & 0x1f)
	if t >= len(idTypes) {
		return notFound()
	}
	n := uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
	nhs = fmt.Sprintf("%010d", n)
	if len(nhs) != 10 {
		return notFound()
	}
	return nhs, idTypes[t], nil
}
