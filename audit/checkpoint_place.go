package audit

// CheckpointPlace is where a store says the gateway keeps its checkpoint
// log and public key, so that migctl audit verify finds them without
// flags. It is a hint, not evidence: an insider can change it, so verify
// prints the log and the key's id it used. The checkpoints themselves stay
// outside every store.
type CheckpointPlace struct {
	Log       string
	PublicKey string
}
