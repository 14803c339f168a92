package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/lockstep-dev/lockstep/config"
)

const fmtHelp = `  Rewrite workflow files (*.hcl) to HCL's canonical format. Each PATH is a
  file or a directory (its *.hcl files; with -recursive also those of its
  subdirectories, hidden ones skipped). No PATH means the current
  directory; "-" reads standard input and writes the result to standard
  output. The names of rewritten files are printed.

  Exit status: 0 success; 1 with -check when some file is not formatted
  (Terraform uses 3 here, but 3 means "lock busy" in lockstep); 2 for a
  syntax error or a usage error.`

// fmtOptions are fmt's flags.
type fmtOptions struct {
	check, diff, recursive bool
}

func fmtMain(args []string) int {
	fs := newFlagSet("fmt", "fmt [-check] [-diff] [-recursive] [PATH...]", fmtHelp)
	var o fmtOptions
	fs.BoolVar(&o.check, "check", false, "only check: list files that are not formatted and exit 1 if any")
	fs.BoolVar(&o.diff, "diff", false, "print a unified diff of the changes")
	fs.BoolVar(&o.recursive, "recursive", false, "also format files in subdirectories")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var diags hcl.Diagnostics
	sources := map[string]*hcl.File{} // for snippets in syntax errors
	unformatted := false
	for _, p := range paths {
		if p == "-" {
			changed, d := o.formatStream(os.Stdin, os.Stdout, sources)
			diags = append(diags, d...)
			unformatted = unformatted || changed
			continue
		}
		files, d := fmtFiles(p, o.recursive)
		diags = append(diags, d...)
		for _, f := range files {
			changed, d := o.formatFile(f, sources)
			diags = append(diags, d...)
			unformatted = unformatted || changed
		}
	}
	writeDiagnostics(os.Stderr, sources, diags)
	switch {
	case diags.HasErrors():
		return exitUsage
	case o.check && unformatted:
		return exitFailed
	}
	return exitOK
}

// fmtFiles lists the files to format under path, sorted. A JSON file
// (*.hcl.json) is never formatted, even when named explicitly.
func fmtFiles(path string, recursive bool) ([]string, hcl.Diagnostics) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read path",
			Detail: fmt.Sprintf("The path %q cannot be read: %s.", path, err)}}
	}
	if !st.IsDir() {
		if strings.HasSuffix(path, ".json") {
			return nil, nil // JSON syntax has no canonical format here; left as it is
		}
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		hidden := strings.HasPrefix(d.Name(), ".") && p != path
		if d.IsDir() {
			if p != path && (hidden || !recursive) {
				return filepath.SkipDir
			}
			return nil
		}
		if !hidden && strings.HasSuffix(d.Name(), ".hcl") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read directory",
			Detail: fmt.Sprintf("The directory %q cannot be listed: %s.", path, err)}}
	}
	sort.Strings(files)
	return files, nil
}

// format returns src in canonical form, or diagnostics when it does not
// parse (formatting broken syntax could change its meaning).
func format(src []byte, name string) ([]byte, hcl.Diagnostics) {
	if diags := config.CheckSource(src, name); diags.HasErrors() {
		return nil, diags
	}
	if _, diags := hclwrite.ParseConfig(src, name, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}

func (o fmtOptions) formatFile(path string, sources map[string]*hcl.File) (bool, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return false, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read file",
			Detail: fmt.Sprintf("The file %q cannot be read: %s.", path, err)}}
	}
	out, diags := format(src, path)
	if diags.HasErrors() {
		sources[path] = &hcl.File{Bytes: src}
	}
	if diags.HasErrors() || bytes.Equal(src, out) {
		return false, diags
	}
	fmt.Fprintln(os.Stdout, path)
	if o.diff {
		fmt.Fprint(os.Stdout, unifiedDiff(path, string(src), string(out)))
	}
	if !o.check {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			return true, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot write file",
				Detail: fmt.Sprintf("The file %q cannot be written: %s.", path, err)}}
		}
	}
	return true, nil
}

func (o fmtOptions) formatStream(r io.Reader, w io.Writer, sources map[string]*hcl.File) (bool, hcl.Diagnostics) {
	src, err := io.ReadAll(io.LimitReader(r, config.MaxFileSize+1))
	if err != nil {
		return false, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read standard input",
			Detail: fmt.Sprintf("Reading standard input failed: %s.", err)}}
	}
	out, diags := format(src, "<stdin>")
	if diags.HasErrors() {
		sources["<stdin>"] = &hcl.File{Bytes: src}
		return false, diags
	}
	changed := !bytes.Equal(src, out)
	switch {
	case o.diff && changed:
		fmt.Fprint(w, unifiedDiff("<stdin>", string(src), string(out)))
	case !o.check && !o.diff:
		_, _ = w.Write(out)
	}
	return changed, nil
}

// unifiedDiff renders the change from a to b as a unified diff with three
// lines of context, from a longest-common-subsequence line match.
func unifiedDiff(name, a, b string) string {
	x, y := splitLines(a), splitLines(b)
	ops := diffLines(x, y)
	var out strings.Builder
	fmt.Fprintf(&out, "--- old/%s\n+++ new/%s\n", name, name)
	const ctx = 3
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(0, i-ctx)
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run-end > 2*ctx || run == len(ops) {
				end = min(end+ctx, len(ops))
				break
			}
			end = run
		}
		writeHunk(&out, ops[start:end])
		i = end
	}
	return out.String()
}

type diffOp struct {
	kind       byte // ' ', '-', '+'
	line       string
	aLine, bLn int // 1-based line numbers in a and b before this op
}

func writeHunk(out *strings.Builder, ops []diffOp) {
	aCount, bCount := 0, 0
	for _, op := range ops {
		if op.kind != '+' {
			aCount++
		}
		if op.kind != '-' {
			bCount++
		}
	}
	fmt.Fprintf(out, "@@ -%d,%d +%d,%d @@\n", ops[0].aLine, aCount, ops[0].bLn, bCount)
	for _, op := range ops {
		out.WriteByte(op.kind)
		out.WriteString(op.line)
		if !strings.HasSuffix(op.line, "\n") {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// diffLines matches x and y by LCS (quadratic; workflow files are small and
// already capped in size) and returns the edit script.
func diffLines(x, y []string) []diffOp {
	n, m := len(x), len(y)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			ops = append(ops, diffOp{' ', x[i], i + 1, j + 1})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, diffOp{'-', x[i], i + 1, j + 1})
			i++
		default:
			ops = append(ops, diffOp{'+', y[j], i + 1, j + 1})
			j++
		}
	}
	return ops
}
