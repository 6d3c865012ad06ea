package app

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// BuildInfo is what `migd -version` and `migctl version` print, and what
// mig_build_info carries: the gateway's version (Version, set with
// -ldflags), the module's version, the VCS revision when the build
// recorded one (go build -buildvcs), and the Go version.
type BuildInfo struct {
	Version   string // Version
	Module    string // the main module's version, "(devel)" for a source build
	Revision  string // VCS revision, "" when the build recorded none
	Time      string // VCS commit time
	Modified  bool   // the working tree had uncommitted changes
	GoVersion string
}

// ReadBuildInfo describes the running binary.
func ReadBuildInfo() BuildInfo {
	b := BuildInfo{Version: Version, GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.Module = bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the one line the commands print, e.g.
// "0.1.0-dev (module (devel), revision 1a2b3c4d5e6f, go1.26.8)".
func (b BuildInfo) String() string {
	rev := "revision unknown (built without VCS information)"
	if b.Revision != "" {
		rev = "revision " + b.Revision
		if b.Time != "" {
			rev += " of " + b.Time
		}
		if b.Modified {
			rev += " with local changes"
		}
	}
	mod := b.Module
	if mod == "" {
		mod = "unknown"
	}
	return fmt.Sprintf("%s (module %s, %s, %s)", b.Version, mod, rev, b.GoVersion)
}
