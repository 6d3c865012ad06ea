package rest

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"mig"
)

// Every gateway error code maps to exactly one HTTP status; unknown errors
// are 500.
func TestHTTPStatus(t *testing.T) {
	cases := map[string]int{
		mig.EINVALID: 400, mig.EUNAUTHORIZED: 401, mig.EFORBIDDEN: 403, mig.ENOTFOUND: 404,
		mig.ENOTALLOWED: 405, mig.ENOTACCEPTABLE: 406, mig.ECONFLICT: 409, mig.ETOOLARGE: 413,
		mig.EUNAVAILABLE: 503, mig.ETIMEOUT: 504, mig.EINTERNAL: 500,
		mig.EURITOOLONG: 414, mig.EUNSUPPORTED: 415, mig.EHEADERS: 431,
	}
	for code, want := range cases {
		if got := HTTPStatus(&mig.Error{Code: code}); got != want {
			t.Errorf("%s: HTTP %d, want %d", code, got, want)
		}
		if issueTypeOf[code] == "" {
			t.Errorf("%s has no OperationOutcome issue type", code)
		}
	}
	if got := HTTPStatus(http.ErrBodyNotAllowed); got != 500 {
		t.Errorf("plain error: HTTP %d, want 500", got)
	}
}

// Paging cursors are bound to their query and refuse any change,
// including non-canonical encodings of the same bytes.
func TestCursor(t *testing.T) {
	s := &Server{PageKey: []byte("0123456789abcdef0123456789abcdef")}
	q := url.Values{"patient": {"abc"}, "_count": {"2"}}
	const scope = "/fhir/Condition\x00user\x00RX999"
	c := s.cursor(4, scope, q)
	if off, err := s.readCursor(c, scope, q); err != nil || off != 4 {
		t.Fatalf("own cursor: %d, %v", off, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(c)
	flipped := append([]byte(nil), raw...)
	flipped[7] ^= 1
	lastBits := []byte(c)
	lastBits[len(lastBits)-1] ^= 1 // unused trailing bits: same bytes, not canonical
	other := url.Values{"patient": {"abc"}, "_count": {"3"}}
	for name, tc := range map[string]struct {
		cursor string
		scope  string
		q      url.Values
	}{
		"offset changed":   {base64.RawURLEncoding.EncodeToString(flipped), scope, q},
		"trailing bits":    {string(lastBits), scope, q},
		"other query":      {c, scope, other},
		"other type":       {c, "/fhir/Observation\x00user\x00RX999", q},
		"other user":       {c, "/fhir/Condition\x00user2\x00RX999", q},
		"other org":        {c, "/fhir/Condition\x00user\x00NX999", q},
		"scope in params":  {c, "/fhir/Condition", url.Values{"patient": {"abc"}, "_count": {"2"}, "\x00user\x00RX999": {""}}},
		"other key":        {(&Server{PageKey: []byte("another key")}).cursor(4, scope, q), scope, q},
		"not base64":       {"!!!", scope, q},
		"too short":        {c[:10], scope, q},
		"empty mac":        {base64.RawURLEncoding.EncodeToString(raw[:8]), scope, q},
		"offset too large": {s.cursor64(1<<40, scope, q), scope, q},
	} {
		if _, err := s.readCursor(tc.cursor, tc.scope, tc.q); mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("%s: accepted (err %v)", name, err)
		}
	}
}

func TestAcceptsJSON(t *testing.T) {
	for accept, want := range map[string]bool{
		"application/fhir+json":                     true,
		"application/json;q=0.9":                    true,
		"*/*":                                       true,
		"application/fhir+xml":                      false,
		"application/xml, text/xml":                 false,
		"application/fhir+xml, application/*;q=0.1": true,
	} {
		if got := acceptsJSON(accept); got != want {
			t.Errorf("acceptsJSON(%q) = %v, want %v", accept, got, want)
		}
	}
}

// Parameter names echoed in diagnostics are only plain names.
func TestSafeParam(t *testing.T) {
	for in, want := range map[string]string{
		"clinical-status":    "clinical-status",
		"patient:identifier": "patient:identifier",
		"<script>":           "?",
		"9990001006 Smith":   "?",
	} {
		if got := safeParam(in); got != want {
			t.Errorf("safeParam(%q) = %q, want %q", in, got, want)
		}
	}
	if got := safeParam("a123456789012345678901234567890123456789xyz"); len(got) != 40 {
		t.Errorf("long name not cut to 40: %q", got)
	}
}
