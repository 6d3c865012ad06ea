package source_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mig"
	"mig/adapters/source"
	"mig/adapters/source/gpsim"
)

// pki is a throwaway CA with a server and a client certificate.
type pki struct {
	pool                                           *x509.CertPool
	server                                         tls.Certificate
	caFile, certFile, keyFile, otherCert, otherKey string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, signer *x509.Certificate, signerKey *ecdsa.PrivateKey) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature, DNSNames: []string{"gp.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &k.PublicKey, signerKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	p := &pki{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = writePEM("ca.pem", "CERTIFICATE", caDER)
	sDER, sKey := issue(2, "server", x509.ExtKeyUsageServerAuth, ca, caKey)
	p.server = tls.Certificate{Certificate: [][]byte{sDER}, PrivateKey: sKey}
	cDER, cKey := issue(3, "gateway", x509.ExtKeyUsageClientAuth, ca, caKey)
	cKeyDER, _ := x509.MarshalECPrivateKey(cKey)
	p.certFile = writePEM("client.pem", "CERTIFICATE", cDER)
	p.keyFile = writePEM("client-key.pem", "EC PRIVATE KEY", cKeyDER)
	// A client certificate from another, untrusted CA (self-signed).
	oKey := key()
	oTmpl := &x509.Certificate{SerialNumber: big.NewInt(4), Subject: pkix.Name{CommonName: "intruder"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	oDER, _ := x509.CreateCertificate(rand.Reader, oTmpl, oTmpl, &oKey.PublicKey, oKey)
	oKeyDER, _ := x509.MarshalECPrivateKey(oKey)
	p.otherCert = writePEM("other.pem", "CERTIFICATE", oDER)
	p.otherKey = writePEM("other-key.pem", "EC PRIVATE KEY", oKeyDER)
	return p
}

func TestHTTPMutualTLS(t *testing.T) {
	p := newPKI(t)
	g, err := gpsim.New(gpsim.Config{Dir: practiceDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(g)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.pool}
	srv.StartTLS()
	defer srv.Close()

	tests := []struct {
		name     string
		tls      source.TLSOptions
		wantCode string
	}{
		{"mutual", source.TLSOptions{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile}, ""},
		{"server name", source.TLSOptions{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile, ServerName: "gp.test"}, ""},
		{"wrong server name", source.TLSOptions{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile, ServerName: "other.test"}, mig.EUNAVAILABLE},
		{"no client cert", source.TLSOptions{CAFile: p.caFile}, mig.EUNAVAILABLE},
		{"untrusted client cert", source.TLSOptions{CAFile: p.caFile, CertFile: p.otherCert, KeyFile: p.otherKey}, mig.EUNAVAILABLE},
		{"server not trusted", source.TLSOptions{CertFile: p.certFile, KeyFile: p.keyFile}, mig.EUNAVAILABLE},
	}
	for _, tc := range tests {
		h, err := source.NewHTTP(source.HTTPOptions{ODS: "A99903", Base: srv.URL, TLS: tc.tls, BreakerFailures: -1})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		rc, err := h.Fetch(context.Background(), nhsA)
		if tc.wantCode == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if got := readAll(t, rc); got != "<extract>A FREETEXT-a</extract>" {
				t.Errorf("%s: %q", tc.name, got)
			}
			continue
		}
		if mig.ErrorCode(err) != tc.wantCode {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.wantCode)
		}
	}
}
