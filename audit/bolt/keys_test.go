package bolt_test

import (
	"crypto/ed25519"
	"crypto/sha256"
)

// benchKey is a fixed checkpoint signing key for tests and benchmarks.
var benchKey = func() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("mig audit/bolt test checkpoint key"))
	return ed25519.NewKeyFromSeed(seed[:])
}()
