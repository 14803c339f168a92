package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Installing completion writes what posener/complete's installer writes
// (the lines Terraform's -install-autocomplete adds), but finds the home
// directory through $HOME (os.UserHomeDir) rather than the password
// database, so that it follows HOME as every other tool does (sudo -E, a
// container, a test).

// completionScripts are the lines that make each shell ask lockstep for
// completions: bash and zsh run `lockstep` with COMP_LINE set (complete -C),
// fish through a function.
func completionScript(shell, bin string) (string, error) {
	switch shell {
	case "bash":
		return fmt.Sprintf("complete -C %s lockstep", shellQuote(bin)), nil
	case "zsh":
		return fmt.Sprintf("autoload -U +X bashcompinit && bashcompinit\ncomplete -o nospace -C %s lockstep", shellQuote(bin)), nil
	case "fish":
		return fmt.Sprintf(`function __complete_lockstep
    set -lx COMP_LINE (commandline -cp)
    test -z (commandline -ct)
    and set COMP_LINE "$COMP_LINE "
    %s
end
complete -f -c lockstep -a "(__complete_lockstep)"`, shellQuote(bin)), nil
	}
	return "", usagef("unknown shell %q: want bash, zsh or fish", shell)
}

// shellQuote quotes s for sh when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// rcTarget is a shell's configuration file that install adds its line to.
type rcTarget struct {
	shell string
	file  string
	whole bool // fish: the file is ours alone
}

// completionTargets lists the shells set up in home: bash (.bashrc, else
// .bash_profile, .bash_login, .profile), zsh (.zshrc), fish (a fish config
// directory), each only when its file or directory exists.
func completionTargets(home, configHome string) []rcTarget {
	var out []rcTarget
	for _, rc := range []string{".bashrc", ".bash_profile", ".bash_login", ".profile"} {
		if exists(filepath.Join(home, rc)) {
			out = append(out, rcTarget{shell: "bash", file: filepath.Join(home, rc)})
			break
		}
	}
	if exists(filepath.Join(home, ".zshrc")) {
		out = append(out, rcTarget{shell: "zsh", file: filepath.Join(home, ".zshrc")})
	}
	if fi, err := os.Stat(filepath.Join(configHome, "fish")); err == nil && fi.IsDir() {
		out = append(out, rcTarget{shell: "fish", file: filepath.Join(configHome, "fish", "completions", "lockstep.fish"), whole: true})
	}
	return out
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// autocomplete installs (or removes) shell completion for the shells set up
// in $HOME, as Terraform's -install-autocomplete does.
func (e *env) autocomplete(install bool) error {
	home := e.getenv("HOME")
	if home == "" {
		return errors.New("HOME is not set: cannot find the shells' configuration files")
	}
	configHome := e.getenv("XDG_CONFIG_HOME")
	if configHome == "" {
		configHome = filepath.Join(home, ".config")
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	targets := completionTargets(home, configHome)
	if len(targets) == 0 {
		return fmt.Errorf("found no bash, zsh or fish configuration in %s", home)
	}
	var errs []error
	for _, t := range targets {
		script, _ := completionScript(t.shell, bin)
		if install {
			err = installLine(t, script)
		} else {
			err = uninstallLine(t, script)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", t.shell, t.file, err))
			continue
		}
		verb := map[bool]string{true: "installed in", false: "removed from"}[install]
		fmt.Fprintf(e.stderr, "Completion for %s %s %s.\n", t.shell, verb, t.file)
	}
	return errors.Join(errs...)
}

// installLine adds script to t's file, unless it is there already.
func installLine(t rcTarget, script string) error {
	if t.whole {
		if exists(t.file) {
			return errors.New("already installed")
		}
		if err := os.MkdirAll(filepath.Dir(t.file), 0o755); err != nil {
			return err
		}
		return os.WriteFile(t.file, []byte(script+"\n"), 0o644)
	}
	last := script[strings.LastIndexByte(script, '\n')+1:]
	if hasLine(t.file, last) {
		return errors.New("already installed")
	}
	f, err := os.OpenFile(t.file, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "\n%s\n", script)
	return err
}

// uninstallLine removes the complete line of script from t's file (the fish
// file as a whole).
func uninstallLine(t rcTarget, script string) error {
	if t.whole {
		err := os.Remove(t.file)
		if errors.Is(err, fs.ErrNotExist) {
			return errors.New("not installed")
		}
		return err
	}
	last := script[strings.LastIndexByte(script, '\n')+1:]
	b, err := os.ReadFile(t.file)
	if err != nil {
		return err
	}
	var kept []string
	found := false
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if strings.TrimRight(l, "\n") == last {
			found = true
			continue
		}
		kept = append(kept, l)
	}
	if !found {
		return errors.New("not installed")
	}
	return os.WriteFile(t.file, []byte(strings.Join(kept, "")), 0o644)
}

// hasLine reports whether file has a line equal to line.
func hasLine(file, line string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() == line {
			return true
		}
	}
	return false
}

// completionPrintCommand is `lockstep completion SHELL`: the script without
// installing it, e.g. for `eval "$(lockstep completion bash)"`.
func completionPrintCommand() *command {
	return &command{
		name:     "completion",
		synopsis: "Print the shell completion script for bash, zsh or fish",
		usage:    "completion bash|zsh|fish",
		help: `Prints what 'lockstep -install-autocomplete' adds to a shell's configuration,
without installing it: load it with eval "$(lockstep completion bash)" (or
zsh), or save the fish one as ~/.config/fish/completions/lockstep.fish. The
shell then asks lockstep itself for completions of commands, flags, workflow
paths, and lock and once keys (from LOCKSTEP_BACKEND, else the local
backend).`,
		args: argNone,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(e *env, args []string) error {
				if err := positional(args, 1, 1, "one SHELL: bash, zsh or fish"); err != nil {
					return err
				}
				bin, err := os.Executable()
				if err != nil {
					return err
				}
				script, err := completionScript(args[0], bin)
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, script)
				return nil
			}
		},
	}
}
