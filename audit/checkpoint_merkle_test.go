package audit_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"

	"mig/audit"
)

// The RFC 6962 reference leaves and tree heads (Certificate Transparency's
// test vectors).
var (
	ctEntries = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	ctRoots   = []string{
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	ctPaths = []struct {
		m    uint64
		path []string
	}{
		{0, []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
		{5, []string{"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
	}
)

func ctLeaves(t *testing.T) [][32]byte {
	var out [][32]byte
	for _, e := range ctEntries {
		b, err := hex.DecodeString(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, audit.MerkleLeaf(b))
	}
	return out
}

func TestMerkleMatchesRFC6962(t *testing.T) {
	leaves := ctLeaves(t)
	f := &audit.MerkleFrontier{}
	for n := 0; n <= len(leaves); n++ {
		if n > 0 {
			f.Append(leaves[n-1])
		}
		r1, r2 := audit.MerkleRoot(leaves[:n]), f.Root()
		if hex.EncodeToString(r1[:]) != ctRoots[n] || r2 != r1 {
			t.Fatalf("size %d: root %x, frontier %x, RFC 6962 says %s", n, r1, r2, ctRoots[n])
		}
	}
	for _, v := range ctPaths {
		path, err := audit.InclusionProof(leaves, v.m)
		if err != nil || len(path) != len(v.path) {
			t.Fatalf("leaf %d: %v %d", v.m, err, len(path))
		}
		for i := range path {
			if hex.EncodeToString(path[i][:]) != v.path[i] {
				t.Fatalf("leaf %d path[%d] %x, RFC 6962 says %s", v.m, i, path[i], v.path[i])
			}
		}
	}
}

// TestMerkleInclusionEveryShape: every leaf of every tree size up to 70
// proves in, and a proof for another leaf, index or root does not (the
// signed checkpoint binds the size to the root).
func TestMerkleInclusionEveryShape(t *testing.T) {
	var leaves [][32]byte
	for i := 0; i < 70; i++ {
		leaves = append(leaves, audit.MerkleLeaf([]byte(fmt.Sprintf("event-%d", i))))
	}
	f := &audit.MerkleFrontier{}
	for n := uint64(1); n <= uint64(len(leaves)); n++ {
		f.Append(leaves[n-1])
		tree := leaves[:n]
		root := audit.MerkleRoot(tree)
		if f.Root() != root {
			t.Fatalf("size %d: frontier root differs", n)
		}
		for m := uint64(0); m < n; m++ {
			path, err := audit.InclusionProof(tree, m)
			if err != nil {
				t.Fatal(err)
			}
			if !audit.VerifyInclusion(tree[m], m, n, path, root) {
				t.Fatalf("size %d leaf %d does not prove in", n, m)
			}
			other := tree[(m+1)%n]
			if n > 1 && audit.VerifyInclusion(other, m, n, path, root) {
				t.Fatalf("size %d: leaf %d's proof accepts another leaf", n, m)
			}
			if n > 1 && audit.VerifyInclusion(tree[m], (m+1)%n, n, path, root) {
				t.Fatalf("size %d: leaf %d's proof accepts another index", n, m)
			}
			if int(n) < len(leaves) && audit.VerifyInclusion(tree[m], m, n+1, path, audit.MerkleRoot(leaves[:n+1])) {
				t.Fatalf("size %d: leaf %d's proof accepts the next tree's root", n, m)
			}
			if len(path) > 0 {
				bad := append([][32]byte{}, path...)
				bad[0][0] ^= 1
				if audit.VerifyInclusion(tree[m], m, n, bad, root) {
					t.Fatalf("size %d: a changed path proves leaf %d", n, m)
				}
			}
		}
	}
}

// TestCheckpointSignsMerkleRootAndProvesAnEvent: with a Scan source each
// checkpoint signs the root of the records so far; an event's proof checks
// against it, and a changed event or a checkpoint of another key does not.
func TestCheckpointSignsMerkleRootAndProvesAnEvent(t *testing.T) {
	ctx := context.Background()
	var bodies [][]byte
	for i := 0; i < 23; i++ {
		bodies = append(bodies, []byte(fmt.Sprintf(`{"resourceType":"AuditEvent","id":"e%d"}`, i)))
	}
	chain := &fakeChain{}
	scan := func(_ context.Context, after uint64, fn func(*audit.Stored) error) error {
		for s := after + 1; s <= chain.seq; s++ {
			if err := fn(&audit.Stored{Seq: s, Body: bodies[s-1]}); err != nil {
				return err
			}
		}
		return nil
	}
	k := newKey(t)
	pub := k.Public().(ed25519.PublicKey)
	log := filepath.Join(t.TempDir(), "checkpoints.log")
	c := audit.NewCheckpointer(chain, k, log, nil, audit.CheckpointerOptions{Scan: scan})
	var leaves [][32]byte
	for _, b := range bodies {
		leaves = append(leaves, audit.MerkleLeaf(b))
	}
	var cp *audit.Checkpoint
	for _, n := range []uint64{5, 6, 17, 23} {
		chain.set(n)
		var err error
		if cp, err = c.Checkpoint(ctx); err != nil || cp == nil {
			t.Fatalf("checkpoint %d: %v", n, err)
		}
		want := audit.MerkleRoot(leaves[:n])
		if cp.Root != hex.EncodeToString(want[:]) {
			t.Fatalf("checkpoint %d signs root %s, want %x", n, cp.Root, want)
		}
		if err := cp.Verify(pub); err != nil {
			t.Fatal(err)
		}
		edited := *cp
		edited.Root = ctRoots[1]
		if edited.Verify(pub) == nil {
			t.Fatal("a changed root still verifies: the signature does not cover it")
		}
	}
	seq := uint64(11)
	path, err := audit.InclusionProof(leaves[:cp.Seq], seq-1)
	if err != nil {
		t.Fatal(err)
	}
	doc := &audit.InclusionProofDoc{EventID: "e10", Seq: seq, TreeSize: cp.Seq, LeafHash: hex.EncodeToString(leaves[seq-1][:]), Checkpoint: cp}
	for _, p := range path {
		doc.Path = append(doc.Path, hex.EncodeToString(p[:]))
	}
	if err := audit.CheckInclusion(doc, bodies[seq-1], pub); err != nil {
		t.Fatalf("proof does not check: %v", err)
	}
	if err := audit.CheckInclusion(doc, []byte(`{"resourceType":"AuditEvent","id":"e10","x":1}`), pub); err == nil {
		t.Fatal("a changed event checks")
	}
	if err := audit.CheckInclusion(doc, bodies[seq-1], newKey(t).Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("a proof checks with another key")
	}
	other := *doc
	other.Seq = 12
	if err := audit.CheckInclusion(&other, bodies[seq-1], pub); err == nil {
		t.Fatal("a proof checks at another position")
	}
}
