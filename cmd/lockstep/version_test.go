package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestVersionOf: release builds report their link-time version and commit;
// without them, what the Go toolchain recorded: the module version of a
// `go install …@v1.2.3`, the commit (and modified) of a `go build` in a git
// checkout, "(devel)" when nothing is known.
func TestVersionOf(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	vcs := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev},
		{Key: "vcs.time", Value: "2026-11-27T17:00:00Z"}, {Key: "vcs.modified", Value: "true"}}
	for _, tc := range []struct {
		name              string
		ldVersion, commit string
		bi                *debug.BuildInfo
		want              versionInfo
		line              string
	}{
		{"release build", "1.2.3", rev, &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			versionInfo{Version: "v1.2.3", Commit: rev, Go: "go1.26.8"},
			"lockstep v1.2.3 (commit 0123456789ab, go1.26.8, " + runtime.GOOS + "/" + runtime.GOARCH + ")"},
		{"release build from a dirty tree is not modified", "v1.2.3", rev, &debug.BuildInfo{GoVersion: "go1.26.8", Settings: vcs},
			versionInfo{Version: "v1.2.3", Commit: rev, Go: "go1.26.8"}, ""},
		{"go install @v1.2.3", "", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			versionInfo{Version: "v1.2.3", Go: "go1.26.8"},
			"lockstep v1.2.3 (go1.26.8, " + runtime.GOOS + "/" + runtime.GOARCH + ")"},
		{"go build in a checkout", "", "", &debug.BuildInfo{GoVersion: "go1.26.8",
			Main: debug.Module{Version: "v0.0.0-20261127170000-0123456789ab+dirty"}, Settings: vcs},
			versionInfo{Version: "v0.0.0-20261127170000-0123456789ab+dirty", Commit: rev, Modified: true, Go: "go1.26.8"},
			"lockstep v0.0.0-20261127170000-0123456789ab+dirty (commit 0123456789ab modified, go1.26.8, " + runtime.GOOS + "/" + runtime.GOARCH + ")"},
		{"go build without vcs", "", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			versionInfo{Version: "(devel)", Go: "go1.26.8"}, ""},
		{"no build info", "", "", nil, versionInfo{Version: "(devel)", Go: runtime.Version()}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.OS, tc.want.Arch = runtime.GOOS, runtime.GOARCH
			got := versionOf(tc.ldVersion, tc.commit, tc.bi)
			if got != tc.want {
				t.Errorf("versionOf = %+v, want %+v", got, tc.want)
			}
			if tc.line != "" && got.String() != tc.line {
				t.Errorf("String() = %q, want %q", got.String(), tc.line)
			}
		})
	}
}
