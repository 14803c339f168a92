package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// manPath is the generated man page, checked in.
var manPath = filepath.Join("..", "..", "docs", "lockstep.1")

// TestManPage: docs/lockstep.1 is generated from the same command table as
// -help (names, usage lines, descriptions, flags). It fails when the file is
// stale; LOCKSTEP_UPDATE_DOCS=1 rewrites it.
func TestManPage(t *testing.T) {
	var b strings.Builder
	writeManPage(&b)
	want := b.String()
	if os.Getenv("LOCKSTEP_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(manPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(manPath)
	if err != nil {
		t.Fatalf("%v (generate it: LOCKSTEP_UPDATE_DOCS=1 go test ./cmd/lockstep -run TestManPage)", err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: regenerate it with LOCKSTEP_UPDATE_DOCS=1 go test ./cmd/lockstep -run TestManPage", manPath)
	}
	for _, c := range commandList() {
		if !strings.Contains(want, `.SS "lockstep `+c.name) {
			t.Errorf("the man page lacks %s", c.name)
		}
	}
}

// writeManPage writes lockstep(1) in roff (man(7) macros).
func writeManPage(w io.Writer) {
	var b strings.Builder
	b.WriteString(".\\\" Generated from the command table by TestManPage (cmd/lockstep/man_test.go); do not edit.\n")
	b.WriteString(".TH LOCKSTEP 1 \"\" \"lockstep\" \"User Commands\"\n")
	b.WriteString(".SH NAME\nlockstep \\- run declarative workflows whose steps coordinate through distributed locks\n")
	b.WriteString(".SH SYNOPSIS\n.B lockstep\n[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIflags\\fR] [\\fIargs\\fR]\n")
	b.WriteString(".SH DESCRIPTION\n" + roff("lockstep runs declarative workflows whose steps coordinate through distributed locks (Redis, or lock files on one host). Flags use Go's single-dash style and may follow the arguments, except for exec, whose COMMAND has flags of its own. Every command takes -help and -no-color.") + "\n")
	b.WriteString(".SH GLOBAL OPTIONS\n")
	for _, line := range strings.Split(strings.TrimSpace(globalHelp), "\n")[1:] {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "Run ") {
			continue
		}
		name, desc, _ := strings.Cut(line, "  ")
		fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", roff(name), roff(strings.TrimSpace(desc)))
	}
	b.WriteString(".SH COMMANDS\n")
	for _, c := range commandList() {
		manCommand(&b, c)
		for _, s := range c.subs {
			manCommand(&b, s)
		}
	}
	b.WriteString(".SH EXIT STATUS\n" + roff("0 success; 1 a step or the command failed; 2 usage or configuration error, nothing ran; 3 a lock could not be acquired; 4 a lock was lost; 5 the backend could not be reached or refused us; 128+n after signal n (130 SIGINT, 143 SIGTERM, 129 SIGHUP, 131 SIGQUIT, 141 SIGPIPE). exec passes its command's status through.") + "\n")
	b.WriteString(".SH ENVIRONMENT\n")
	for _, v := range [][2]string{
		{"LOCKSTEP_BACKEND", "backend URL, when -backend is not given"},
		{"LOCKSTEP_HOLDER_INFO", "free text stored with every lock this process takes, e.g. a CI job URL"},
		{"LOCKSTEP_LOG, LOCKSTEP_LOG_FORMAT, LOCKSTEP_LOG_PATH", "lockstep's own log: level, json, file"},
		{"LOCKSTEP_VAR_name", "a workflow variable's value"},
		{"NO_COLOR", "no colour in diagnostics"},
	} {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", roff(v[0]), roff(v[1]))
	}
	b.WriteString(".SH SEE ALSO\n" + roff("docs/cli.md, docs/language.md and docs/locks.md in the lockstep repository; flock(1), dot(1).") + "\n")
	io.WriteString(w, b.String())
}

// manCommand writes one command's section.
func manCommand(b *strings.Builder, c *command) {
	fmt.Fprintf(b, ".SS \"lockstep %s\"\n", c.name)
	fmt.Fprintf(b, ".nf\nlockstep %s\n.fi\n", roff(c.usage))
	for _, para := range strings.Split(strings.TrimSpace(c.help), "\n\n") {
		fmt.Fprintf(b, ".PP\n%s\n", roff(strings.Join(strings.Fields(para), " ")))
	}
	if c.setup == nil {
		return
	}
	var noColor bool
	fs, _ := newFlagSet(c, &noColor)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		head := "-" + f.Name
		if name != "" {
			head += " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(b, ".TP\n.B %s\n%s\n", roff(head), roff(usage))
	})
}

// roff escapes text for a man page: backslashes, hyphens (as \-, so that
// they copy as ASCII), and a leading dot or quote.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
			line = `\&` + line
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
