package audit

// A Merkle tree over the audit log in the shape of RFC 6962 (Certificate
// Transparency), so that an auditor can be handed a short proof that one
// AuditEvent is in the log a signed checkpoint vouches for, without the
// rest of the log.
//
// Leaf i (0-based) is record Seq i+1; its hash is SHA-256(0x00 || body),
// body being the AuditEvent exactly as stored and exported (one NDJSON
// line without its newline). Interior nodes are SHA-256(0x01 || left ||
// right), split at the largest power of two below the size. A checkpoint
// of seq n carries the root of the tree of the first n records.

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
)

// MerkleLeaf is the leaf hash of a stored AuditEvent body.
func MerkleLeaf(body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(body)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func merkleNode(l, r [32]byte) [32]byte {
	var b [65]byte
	b[0] = 1
	copy(b[1:], l[:])
	copy(b[33:], r[:])
	return sha256.Sum256(b[:])
}

// MerkleRoot is the RFC 6962 Merkle Tree Hash of leaves (SHA-256 of
// nothing for none).
func MerkleRoot(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := splitPoint(uint64(len(leaves)))
	return merkleNode(MerkleRoot(leaves[:k]), MerkleRoot(leaves[k:]))
}

// splitPoint is the largest power of two smaller than n (n > 1).
func splitPoint(n uint64) uint64 { return 1 << (bits.Len64(n-1) - 1) }

// MerkleFrontier is the compact state of a growing tree: the roots of its
// perfect subtrees, largest first (one per set bit of Size). Appending is
// O(log n) and the root needs no other leaf.
type MerkleFrontier struct {
	Size  uint64
	Nodes [][32]byte
}

// Append adds the next leaf.
func (f *MerkleFrontier) Append(leaf [32]byte) {
	f.Nodes = append(f.Nodes, leaf)
	// Merge equal-sized subtrees: one merge per trailing one bit of Size.
	for s := f.Size; s&1 == 1; s >>= 1 {
		n := len(f.Nodes)
		f.Nodes = append(f.Nodes[:n-2], merkleNode(f.Nodes[n-2], f.Nodes[n-1]))
	}
	f.Size++
}

// Root is the Merkle Tree Hash of the leaves appended so far.
func (f *MerkleFrontier) Root() [32]byte {
	if len(f.Nodes) == 0 {
		return sha256.Sum256(nil)
	}
	r := f.Nodes[len(f.Nodes)-1]
	for i := len(f.Nodes) - 2; i >= 0; i-- {
		r = merkleNode(f.Nodes[i], r)
	}
	return r
}

// InclusionProof is the audit path of leaf m in the tree of leaves (RFC
// 6962 section 2.1.1), from the leaf's sibling up.
func InclusionProof(leaves [][32]byte, m uint64) ([][32]byte, error) {
	n := uint64(len(leaves))
	if m >= n {
		return nil, fmt.Errorf("leaf %d is not in a tree of %d", m, n)
	}
	var path [][32]byte
	var walk func(m uint64, d [][32]byte)
	walk = func(m uint64, d [][32]byte) {
		if len(d) <= 1 {
			return
		}
		k := splitPoint(uint64(len(d)))
		if m < k {
			walk(m, d[:k])
			path = append(path, MerkleRoot(d[k:]))
		} else {
			walk(m-k, d[k:])
			path = append(path, MerkleRoot(d[:k]))
		}
	}
	walk(m, leaves)
	return path, nil
}

// VerifyInclusion checks that leaf is leaf m of the tree of size n whose
// root is root, given its audit path (RFC 9162 section 2.1.3.2).
func VerifyInclusion(leaf [32]byte, m, n uint64, path [][32]byte, root [32]byte) bool {
	if m >= n {
		return false
	}
	fn, sn := m, n-1
	r := leaf
	for _, p := range path {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			r = merkleNode(p, r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = merkleNode(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	return sn == 0 && r == root
}

// InclusionProofDoc is what an auditor is given: one AuditEvent's place in
// the log and the signed checkpoint whose root it leads to.
type InclusionProofDoc struct {
	EventID    string      `json:"eventId"`
	Seq        uint64      `json:"seq"`       // the record; leaf index Seq-1
	TreeSize   uint64      `json:"treeSize"`  // = Checkpoint.Seq
	LeafHash   string      `json:"leafHash"`  // hex SHA-256(0x00 || the AuditEvent's bytes)
	Path       []string    `json:"auditPath"` // hex, from the leaf's sibling up
	Checkpoint *Checkpoint `json:"checkpoint"`
}

// CheckInclusion checks a proof document: the checkpoint's signature with
// pub, the event's bytes against the leaf hash, and the path against the
// signed root.
func CheckInclusion(doc *InclusionProofDoc, event []byte, pubKey ed25519.PublicKey) error {
	cp := doc.Checkpoint
	if cp == nil || cp.Root == "" {
		return errors.New("the proof carries no checkpoint with a Merkle root")
	}
	if err := cp.Verify(pubKey); err != nil {
		return fmt.Errorf("checkpoint: %v", err)
	}
	if doc.TreeSize != cp.Seq || doc.Seq == 0 || doc.Seq > doc.TreeSize {
		return errors.New("the proof's tree size or seq does not fit its checkpoint")
	}
	leaf := MerkleLeaf(event)
	if hex.EncodeToString(leaf[:]) != doc.LeafHash {
		return errors.New("the AuditEvent given is not the one the proof is for")
	}
	root, err := decode32(cp.Root)
	if err != nil {
		return errors.New("checkpoint root is not a hash")
	}
	path := make([][32]byte, len(doc.Path))
	for i, p := range doc.Path {
		if path[i], err = decode32(p); err != nil {
			return errors.New("audit path holds a value that is not a hash")
		}
	}
	if !VerifyInclusion(leaf, doc.Seq-1, doc.TreeSize, path, root) {
		return errors.New("the audit path does not lead to the checkpoint's signed root: the event is not in that log")
	}
	return nil
}

func decode32(s string) ([32]byte, error) {
	var h [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return h, errors.New("not a 32-byte hex hash")
	}
	copy(h[:], b)
	return h, nil
}

// LeafScanner reads stored records after a seq in order: audit.Store.Scan.
type LeafScanner func(ctx context.Context, after uint64, fn func(*Stored) error) error

var errStopScan = errors.New("stop")

// extendFrontier appends the leaves of records Size+1..upto; a record
// missing from the start (archived) gives an error and leaves f unchanged
// only in part, so the caller drops it.
func extendFrontier(ctx context.Context, f *MerkleFrontier, scan LeafScanner, upto uint64) error {
	if f.Size >= upto {
		return nil
	}
	err := scan(ctx, f.Size, func(st *Stored) error {
		if st.Seq > upto {
			return errStopScan
		}
		if st.Seq != f.Size+1 {
			return fmt.Errorf("record %d is not in the store (archived?): the Merkle tree cannot be built", f.Size+1)
		}
		f.Append(MerkleLeaf(st.Body))
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return err
	}
	if f.Size != upto {
		return fmt.Errorf("the Merkle tree reached seq %d, not %d", f.Size, upto)
	}
	return nil
}
