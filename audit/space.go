package audit

import (
	"sync"
	"time"
)

// SpaceLevel says how much room the data directory has left.
type SpaceLevel int

const (
	// SpaceOK: every request is audited as usual.
	SpaceOK SpaceLevel = iota
	// SpaceLow: free space is under the anonymous floor. Unauthenticated
	// refusals are no longer written one by one: they are counted, all
	// sources together, into one combined event per window. What is left
	// above the hard floor is the reserve for authenticated requests.
	SpaceLow
	// SpaceExhausted: free space is under the hard floor. Nothing more is
	// written and every request is refused (503 AUDIT_UNAVAILABLE) before
	// any work, so the audit file never meets a full disk mid-write.
	SpaceExhausted
)

func (l SpaceLevel) String() string {
	switch l {
	case SpaceLow:
		return "low"
	case SpaceExhausted:
		return "exhausted"
	}
	return "ok"
}

// Space watches the free space of the data directory against two floors.
// It reads the file system at most once per Every; its only state is that
// reading, which is this node's view of its own disk (nothing another node
// would need).
type Space struct {
	Dir string
	// AnonymousFloor: below this many free bytes, unauthenticated work
	// stops being written one event per source (SpaceLow).
	AnonymousFloor uint64
	// Floor: below this many free bytes, nothing is written (SpaceExhausted).
	Floor uint64
	// Every is how often free space is read (default 1 s).
	Every time.Duration
	// OnChange, if set, is told each time the level changes (a floor is
	// crossed, either way), with the free bytes just read.
	OnChange func(level SpaceLevel, free uint64)
	// Free reads the free bytes of dir (default: statfs on Unix).
	Free func(dir string) (uint64, error)

	mu    sync.Mutex
	read  time.Time
	level SpaceLevel
	seen  bool
}

// Level returns the current level (SpaceOK for a nil Space, or when the
// file system cannot be read: the store's own write errors still fail the
// request then).
func (s *Space) Level() SpaceLevel {
	if s == nil || (s.AnonymousFloor == 0 && s.Floor == 0) {
		return SpaceOK
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	every := s.Every
	if every <= 0 {
		every = time.Second
	}
	now := time.Now()
	if s.seen && now.Sub(s.read) < every {
		return s.level
	}
	s.read = now
	free := s.Free
	if free == nil {
		free = freeBytes
	}
	n, err := free(s.Dir)
	level := SpaceOK
	switch {
	case err != nil:
	case n < s.Floor:
		level = SpaceExhausted
	case n < s.AnonymousFloor:
		level = SpaceLow
	}
	changed := !s.seen && level != SpaceOK || s.seen && level != s.level
	s.level, s.seen = level, true
	if changed && s.OnChange != nil {
		s.OnChange(level, n)
	}
	return level
}

// FreeBytes returns the bytes available to an unprivileged writer on dir's
// file system (what the floors are compared with), for the metrics.
func FreeBytes(dir string) (uint64, error) { return freeBytes(dir) }
