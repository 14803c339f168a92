package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at build time by release builds (.goreleaser.yaml):
//
//	-ldflags "-X main.version=1.2.3 -X main.commit=<full hash>"
//
// Without them, lockstep reports what the Go toolchain recorded (see
// versionOf).
var (
	version = ""
	commit  = ""
)

func versionCommand() *command {
	return &command{
		name:     "version",
		synopsis: "Print the lockstep version",
		usage:    "version [-json]",
		help: `Print the lockstep version, the commit it was built from, the Go version and
the platform. Release builds carry the release tag and commit; a
'go install …@VERSION' reports that module version; a 'go build' in a git
checkout reports the commit (and "modified" when the tree had changes). It
takes no arguments.

-json prints {"version", "commit", "modified", "go", "os", "arch"}.`,
		setup: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print the version as one JSON object")
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				return runVersion(e, *asJSON)
			}
		},
	}
}

// versionInfo is what `lockstep version` reports.
type versionInfo struct {
	Version  string `json:"version"`            // "v1.2.3", a pseudo-version, or "(devel)"
	Commit   string `json:"commit,omitempty"`   // full hash, when known
	Modified bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

// runVersion prints the version (-json: one object).
func runVersion(e *env, asJSON bool) error {
	bi, _ := debug.ReadBuildInfo()
	v := versionOf(version, commit, bi)
	if asJSON {
		b, _ := json.Marshal(v) // a struct of strings and a bool
		fmt.Fprintf(e.stdout, "%s\n", safeJSON(b))
		return nil
	}
	fmt.Fprintln(e.stdout, v.String())
	return nil
}

// String is the one-line form: "lockstep v1.2.3 (commit 0123456789ab, go1.26.8, linux/amd64)".
func (v versionInfo) String() string {
	var b strings.Builder
	b.WriteString("lockstep " + v.Version + " (")
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		b.WriteString("commit " + c)
		if v.Modified {
			b.WriteString(" modified")
		}
		b.WriteString(", ")
	}
	b.WriteString(v.Go + ", " + v.OS + "/" + v.Arch + ")")
	return b.String()
}

// versionOf combines the link-time values (release builds) with the build
// information the Go toolchain records (nil when there is none): the main
// module's version ("v1.2.3" after `go install …@v1.2.3`; a pseudo-version
// or "(devel)" for a `go build` in a checkout) and the vcs.revision and
// vcs.modified settings (a `go build` in a git checkout). A link-time value
// wins over the recorded one; a version without its "v" gets one.
func versionOf(ldVersion, ldCommit string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: ldVersion, Commit: ldCommit, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi != nil {
		if bi.GoVersion != "" {
			v.Go = bi.GoVersion
		}
		if v.Version == "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && v.Commit == "":
				v.Commit = s.Value
			case s.Key == "vcs.modified" && ldCommit == "":
				v.Modified = s.Value == "true"
			}
		}
	}
	switch {
	case v.Version == "":
		v.Version = "(devel)"
	case v.Version[0] >= '0' && v.Version[0] <= '9':
		v.Version = "v" + v.Version
	}
	return v
}
