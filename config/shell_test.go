package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// hostile is what an earlier step's output may hold: every kind of shell
// syntax, quotes of both kinds, a glob, a variable, a backslash, newlines.
const hostile = "$(touch pwned1) `touch pwned2` ; touch pwned3 && x | touch pwned4 ' \" * $HOME \\ \n$(touch pwned5)\nend"

// runShell compiles src with var.v set to value, runs it with /bin/sh in a
// fresh directory and returns its stdout; no marker file may appear.
func runShell(t *testing.T, src, value string) string {
	t.Helper()
	dir := t.TempDir()
	scope := &Scope{BaseDir: dir, Variables: map[string]cty.Value{"v": cty.StringVal(value),
		"list": cty.ListVal([]cty.Value{cty.StringVal(value), cty.StringVal("b c")}), "yes": cty.True}}
	sh, diags := CompileShellTemplate([]byte(src), "test.hcl", scope)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", src, diags.Error())
	}
	if !sh.Known || strings.Contains(sh.Script, "pwned") {
		t.Fatalf("%s: script %q known=%v holds a value", src, sh.Script, sh.Known)
	}
	cmd := exec.Command("/bin/sh", sh.Argv("/bin/sh")[1:]...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: script %q: %v\n%s", src, sh.Script, err, out)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "pwned") {
			t.Fatalf("%s: the marker %s was created: a value ran as code (script %q)", src, e.Name(), sh.Script)
		}
	}
	return string(out)
}

// TestShell_valuesAreData: in every quoting context an interpolated value
// reaches the shell intact, as data.
func TestShell_valuesAreData(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"unquoted", `printf '%s|' ${var.v}`, hostile + "|"},
		{"double quotes", `printf '%s|' "${var.v}"`, hostile + "|"},
		{"double quotes with text", `printf '%s|' "<${var.v}>"`, "<" + hostile + ">|"},
		{"single quotes", `printf '%s|' '<${var.v}>'`, "<" + hostile + ">|"},
		{"command substitution", `x=$(printf '%s' ${var.v}); printf '%s|' "$x"`, strings.TrimRight(hostile, "\n") + "|"},
		{"substitution in double quotes", `printf '%s|' "$(printf '%s' ${var.v})"`, strings.TrimRight(hostile, "\n") + "|"},
		{"backticks", "x=`printf '%s' ${var.v}`; printf '%s|' \"$x\"", strings.TrimRight(hostile, "\n") + "|"},
		{"parameter default", `printf '%s|' "$${UNSET_X:-${var.v}}"`, hostile + "|"},
		{"parameter default unquoted", `printf '%s|' $${UNSET_X:-${var.v}}`, hostile + "|"},
		{"comment", "# ${var.v}\nprintf ok", "ok"},
		{"two values", `printf '%s|' ${var.v}${var.v}`, hostile + hostile + "|"},
		{"heredoc", "cat <<EOF\n${var.v}\nEOF\n", hostile + "\n"},
		{"heredoc strip", "cat <<-EOF\n\t${var.v}\n\tEOF\n", hostile + "\n"},
		{"if directive", `printf '%s|' %{ if var.yes }"${var.v}"%{ else }no%{ endif }`, hostile + "|"},
		{"for directive", `printf '%s|' %{ for x in var.list }'${x}' %{ endfor }`, hostile + "|b c|"},
		{"value then code", `v=${var.v}; printf '%s|' "$v"`, hostile + "|"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := runShell(t, tc.src, hostile); got != tc.want {
				t.Errorf("%s:\n got %q\nwant %q", tc.src, got, tc.want)
			}
		})
	}
}

// TestShell_refusedContexts: where a value cannot be data, the template is
// refused with a diagnostic on the interpolation.
func TestShell_refusedContexts(t *testing.T) {
	for _, src := range []string{
		`echo $(( ${var.v} + 1 ))`,
		`(( x = ${var.v} ))`,
		`echo \${var.v}`,
		`echo $%{ if true }${var.v}%{ endif }`,
		"cat <<'EOF'\n${var.v}\nEOF\n",
		`cat <<${var.v}`,
	} {
		scope := &Scope{Variables: map[string]cty.Value{"v": cty.StringVal("1")}}
		_, diags := CompileShellTemplate([]byte(src), "t.hcl", scope)
		if !diags.HasErrors() || diags[0].Summary != "Interpolation cannot be passed as data" || diags[0].Subject == nil {
			t.Errorf("%q: want a refusal, got %v", src, diags)
		}
	}
}

// TestShell_script: the script holds the literal text and a quoted
// reference per interpolation; the values are the arguments.
func TestShell_script(t *testing.T) {
	scope := &Scope{Variables: map[string]cty.Value{"a": cty.StringVal("x y"), "n": cty.NumberIntVal(3)}}
	sh, diags := CompileShellTemplate([]byte(`echo ${var.a} "${var.n}" '${var.a}'`), "t.hcl", scope)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if want := `echo "${1}" "${2}" ''"${3}"''`; sh.Script != want {
		t.Errorf("script %q, want %q", sh.Script, want)
	}
	if got := strings.Join(sh.Args, ","); got != "x y,3,x y" {
		t.Errorf("args %q", got)
	}
	if got := sh.Argv("/bin/sh"); got[0] != "/bin/sh" || got[1] != "-c" || got[3] != "sh" || len(got) != 7 {
		t.Errorf("argv %q", got)
	}
	// Unknown values: the script is known, the arguments are not.
	scope.Variables = map[string]cty.Value{"a": cty.UnknownVal(cty.String)}
	sh, _ = CompileShellTemplate([]byte(`echo ${var.a}`), "t.hcl", scope)
	if !sh.ScriptKnown || sh.Known || sh.Script != `echo "${1}"` {
		t.Errorf("unknown value: %+v", sh)
	}
}

// TestShell_validate: validate reports shell templates that cannot keep
// values as data, and shell attributes that are not templates, on the
// attribute; JSON templates are compiled the same way.
func TestShell_validate(t *testing.T) {
	_, sums := loadSrc(t, `
variable "n" { type = number }
locals { script = "echo hi" }
step "a" { shell = "echo $(( ${var.n} * 2 ))" }
step "b" { shell = local.script }
step "c" { shell = "echo %{ if var.n > 1 }$(( ${var.n} ))%{ endif }" }
`)
	want := []string{"Interpolation cannot be passed as data", "Shell script is not a template", "Interpolation cannot be passed as data"}
	if strings.Join(sums, ",") != strings.Join(want, ",") {
		t.Errorf("diagnostics %v, want %v", sums, want)
	}
	dir := writeFiles(t, map[string]string{"main.hcl.json": `{"variable": {"v": {}}, "step": {"s": {"shell": "printf '%s' ${var.v}"}}}`})
	w, diags := Load(dir, nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	scope := &Scope{BaseDir: dir, Variables: map[string]cty.Value{"v": cty.StringVal("$(touch pwned)")}}
	sh, diags := scope.EvalShell(w.Steps["s"].Attrs.Get("shell"))
	if diags.HasErrors() || sh.Script != `printf '%s' "${1}"` || sh.Args[0] != "$(touch pwned)" {
		t.Errorf("JSON shell: %+v %v", sh, diags)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("pwned")
	}
}
