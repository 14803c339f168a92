package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// hostile is text another machine may store with a lock: an ESC sequence
// that clears the screen, an OSC 0 window title, an OSC 52 clipboard write,
// a bare CR that overwrites the line, a C1 CSI (U+009B), bidi overrides and
// marks, a newline that forges a line, and a byte that is not UTF-8.
const hostile = "x\x1b[2J\x1b[H\x1b]0;pwned-title\x07\x1b]52;c;cHduZWQ=\x07\rFORGED\u009b31m\u202eevil\u2066\u200f\nHolder: root\xff\x7f"

// rawControls lists the runes of s that must never reach a terminal from
// another machine: C0 controls other than newline and tab, DEL, C1 controls,
// format characters (bidi controls, zero-width marks), line and paragraph
// separators, and bytes that are not UTF-8.
func rawControls(s string) []string {
	var bad []string
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				bad = append(bad, fmt.Sprintf("byte %#x at %d", s[i], i))
			}
		case r == '\n' || r == '\t':
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == '\u2028', r == '\u2029':
			bad = append(bad, fmt.Sprintf("%U at %d", r, i))
		}
	}
	return bad
}

// TestRawControls_canary: the checker catches every class of character the
// hostile text holds, and passes plain text and escaped forms.
func TestRawControls_canary(t *testing.T) {
	for _, s := range []string{"\x1b[2J", "\x1b]52;c;x\x07", "a\rb", "\u009b", "\u202e", "\u2066", "\u200f", "\xff", "\x7f"} {
		if len(rawControls("ok "+s+" ok")) == 0 {
			t.Errorf("checker misses %q", s)
		}
	}
	if bad := rawControls("Lock Info:\n\tKey: x\\x1b[2J \\u202e café ✓\n"); len(bad) > 0 {
		t.Errorf("checker flags plain text: %v", bad)
	}
}

const hostileWorkflow = `
variable "key" { type = string }
variable "once" { type = string }

step "wait" {
  lock {
    key     = var.key
    timeout = "1500ms"
  }
  command = ["teststep", "print", "never"]
}

step "skip" {
  once {
    key = var.once
  }
  command = ["teststep", "print", "never"]
}
`

// TestSafety_hostileHolderText (TESTING.md "hostile-holder-text"): holder
// info, user, lock keys and once keys with terminal escapes, written by
// another lockstep, never reach human output raw; -json carries them exactly.
func TestSafety_hostileHolderText(t *testing.T) {
	srv := locktest.StartServer(t, nil)
	key, onceKey := "deploy/"+hostile, "once/"+hostile
	base := []string{"LOCKSTEP_BACKEND=" + srv.URL()}
	evil := append([]string{"USER=" + hostile, "LOCKSTEP_HOLDER_INFO=" + hostile}, base...)
	host, _ := os.Hostname()
	wantOwner := hostile + "@" + host

	// Another machine holds the lock and has set the once marker.
	code, p := runLockstep(t, "", evil, "lock", "acquire", "-ttl", "120s", key)
	if code != 0 {
		t.Fatalf("lock acquire: exit %d: %s", code, p.stderr)
	}
	if code, p := runLockstep(t, "", evil, "exec", "-once", onceKey, "other", "--", "teststep", "print", "done"); code != 0 {
		t.Fatalf("exec -once: exit %d: %s", code, p.stderr)
	}

	dir := writeWorkflow(t, map[string]string{"main.hcl": hostileWorkflow})
	wfEnv := append([]string{"LOCKSTEP_VAR_key=" + key, "LOCKSTEP_VAR_once=" + onceKey}, base...)
	human := []struct {
		want int
		args []string
	}{
		{0, []string{"lock", "list"}},
		{0, []string{"lock", "show", key}},
		{0, []string{"once", "list"}},
		{2, []string{"force-unlock", key}},
		{0, []string{"plan", "."}},
		{3, []string{"run", "."}},
		{3, []string{"exec", "-timeout", "1s", key, "--", "teststep", "print", "never"}},
		{0, []string{"exec", "-on-busy", "skip", key, "--", "teststep", "print", "never"}},
		{0, []string{"exec", "-once", onceKey, "free/key", "--", "teststep", "print", "never"}},
		{3, []string{"lock", "acquire", "-timeout", "0s", key}},
		{4, []string{"lock", "check", key, "00000000000000000000000000000000"}},
		{1, []string{"once", "forget", "missing/" + hostile}},
		{1, []string{"force-unlock", "-force", "missing/" + hostile}},
	}
	checked := 0
	for _, c := range human {
		code, p := runLockstep(t, dir, wfEnv, c.args...)
		out := p.stdout.String() + p.stderr.String()
		if code != c.want {
			t.Errorf("%s: exit %d, want %d\n%q", c.args[:2], code, c.want, out)
		}
		if bad := rawControls(out); len(bad) > 0 {
			t.Errorf("%s: %d raw control or bidi characters from another machine reach the terminal (%s)\n%q",
				c.args[:2], len(bad), strings.Join(bad[:min(len(bad), 6)], ", "), out)
		}
		checked += len(out)
	}
	t.Logf("hostile-holder-text: %d human commands, %d bytes of stdout+stderr checked", len(human), checked)

	checkHostileJSON(t, wfEnv, dir, key, onceKey, wantOwner)

	// Last: force-unlock with -force, whose message names the holder.
	code, p = runLockstep(t, dir, wfEnv, "force-unlock", "-force", key)
	if out := p.stdout.String() + p.stderr.String(); code != 0 || len(rawControls(out)) > 0 {
		t.Errorf("force-unlock -force: exit %d, raw controls %v\n%q", code, rawControls(out), out)
	}
}

// checkHostileJSON decodes the -json forms and compares the hostile strings
// with what was stored: exact, byte for byte (an invalid UTF-8 byte comes back
// as U+FFFD, as encoding/json writes it). The JSON itself, which people read
// on terminals too, carries no raw control or bidi character: those are
// written as \u escapes, which decode to the same strings.
func checkHostileJSON(t *testing.T, env []string, dir, key, onceKey, wantOwner string) {
	t.Helper()
	exact := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	for _, args := range [][]string{
		{"lock", "show", "-json", key}, {"lock", "list", "-json"}, {"once", "list", "-json"},
		{"run", "-json", "."}, {"plan", "-json", "."},
	} {
		_, p := runLockstep(t, dir, env, args...)
		if bad := rawControls(p.stdout.String()); len(bad) > 0 {
			t.Errorf("%s: %d raw control or bidi characters from another machine in the JSON (%s)\n%q",
				args[:2], len(bad), strings.Join(bad[:min(len(bad), 6)], ", "), p.stdout)
		}
	}
	var li lock.LockInfo
	decodeLine(t, dir, env, &li, "lock", "show", "-json", key)
	if li.Key != exact(key) || len(li.Holders) != 1 || li.Holders[0].Owner != exact(wantOwner) || li.Holders[0].Info != exact(hostile) {
		t.Errorf("lock show -json: %+v, want key, owner and info exact", li)
	}
	li = lock.LockInfo{}
	decodeLine(t, dir, env, &li, "lock", "list", "-json")
	if li.Key != exact(key) || len(li.Holders) != 1 || li.Holders[0].Info != exact(hostile) {
		t.Errorf("lock list -json: %+v, want key and info exact", li)
	}
	var rec lock.OnceRecord
	decodeLine(t, dir, env, &rec, "once", "list", "-json")
	if rec.Key != exact(onceKey) || rec.Owner != exact(wantOwner) || rec.Info != exact(hostile) {
		t.Errorf("once list -json: %+v, want key, owner and info exact", rec)
	}
	code, p := runLockstep(t, dir, env, "run", "-json", ".")
	if code != 3 {
		t.Errorf("run -json: exit %d, want 3", code)
	}
	waits := 0
	sc := bufio.NewScanner(strings.NewReader(p.stdout.String()))
	for sc.Scan() {
		var ev struct {
			Type    string        `json:"type"`
			Lock    string        `json:"lock"`
			Holders []lock.Holder `json:"holders"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("run -json: line %q: %v", sc.Text(), err)
		}
		if ev.Type == "lock_wait" {
			waits++
			if ev.Lock != exact(key) || len(ev.Holders) != 1 || ev.Holders[0].Info != exact(hostile) || ev.Holders[0].Owner != exact(wantOwner) {
				t.Errorf("run -json lock_wait: %+v, want lock, owner and info exact", ev)
			}
		}
	}
	if waits == 0 {
		t.Errorf("run -json printed no lock_wait event:\n%s", p.stdout)
	}
}

// decodeLine runs lockstep and decodes the first line of its stdout into v.
func decodeLine(t *testing.T, dir string, env []string, v any, args ...string) {
	t.Helper()
	code, p := runLockstep(t, dir, env, args...)
	line, _, _ := strings.Cut(p.stdout.String(), "\n")
	if code != 0 || json.Unmarshal([]byte(line), v) != nil {
		t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, code, p.stdout, p.stderr)
	}
}
