package devidp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"

	jose "github.com/go-jose/go-jose/v4"

	"mig"
)

// EHRSimClientID is the registered launch client of the development "EHR
// simulator" (the Shared Record Viewer's -dev page that stands in for a
// clinical system creating launches).
const EHRSimClientID = "mig-ehr-sim"

// LoadOrCreateClientKey reads the development launch client's signing key
// (PEM, PKCS #8, ECDSA P-256) from file, or generates it and writes it
// (mode 0600). migd -dev registers its public half; the viewer's EHR
// simulator signs its client assertions with it. Development only.
func LoadOrCreateClientKey(file string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err == nil {
		return parseClientKey(b)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, &mig.Error{Code: mig.EINVALID, Message: "launch client key: cannot read key file", Err: err}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "launch client key: cannot generate key", Err: err}
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "launch client key: cannot encode key", Err: err}
	}
	if err := writeFileAtomic(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, &mig.Error{Code: mig.EINVALID, Message: "launch client key: cannot write key file", Err: err}
	}
	return key, nil
}

// ReadClientKey reads a launch client's signing key written by
// LoadOrCreateClientKey, without creating one.
func ReadClientKey(file string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, &mig.Error{Code: mig.EINVALID, Message: "launch client key: cannot read key file", Err: err}
	}
	return parseClientKey(b)
}

func parseClientKey(b []byte) (*ecdsa.PrivateKey, error) {
	bad := &mig.Error{Code: mig.EINVALID, Message: "launch client key: file does not hold an ECDSA private key"}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, bad
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, bad
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, bad
	}
	return ek, nil
}

// PublicKeySet is the key set a gateway registers for a client key.
func PublicKeySet(pub crypto.PublicKey) *jose.JSONWebKeySet {
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, Algorithm: string(jose.ES256), Use: "sig"}}}
}
