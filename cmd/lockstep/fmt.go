package main

import (
	"bytes"
	"flag"
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
	"github.com/rogpeppe/go-internal/diff"
)

func fmtCommand() *command {
	return &command{
		name:     "fmt",
		synopsis: "Rewrite workflow files to the canonical format",
		usage:    "fmt [-check] [-diff] [-recursive] [PATH...]",
		help: `Rewrite workflow files (*.hcl) to HCL's canonical format. Each PATH is a file
or a directory (its *.hcl files; with -recursive also those of its
subdirectories, hidden ones skipped). No PATH means the current directory;
"-" reads standard input and writes the result to standard output. The names
of rewritten files are printed.

Exit status: 0 success; 1 with -check when some file is not formatted
(Terraform uses 3 here, but 3 means "lock busy" in lockstep); 2 for a syntax
error or a usage error.`,
		args: argFiles,
		setup: func(fs *flag.FlagSet) runFunc {
			o := &fmtOptions{}
			fs.BoolVar(&o.check, "check", false, "only check: list files that are not formatted and exit 1 if any")
			fs.BoolVar(&o.diff, "diff", false, "print a unified diff of the changes")
			fs.BoolVar(&o.recursive, "recursive", false, "also format files in subdirectories")
			return o.run
		},
	}
}

// fmtOptions are fmt's flags and where it writes.
type fmtOptions struct {
	check, diff, recursive bool
	stdout                 io.Writer
}

func (o *fmtOptions) run(e *env, paths []string) error {
	o.stdout = e.stdout
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var diags hcl.Diagnostics
	sources := map[string]*hcl.File{} // for snippets in syntax errors
	unformatted := false
	for _, p := range paths {
		if p == "-" {
			changed, d := o.formatStream(e.stdin, e.stdout, sources)
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
	e.diagnostics(sources, diags)
	switch {
	case diags.HasErrors():
		return reported(usagef("syntax errors"))
	case o.check && unformatted:
		return exitStatus(exitFailed)
	}
	return nil
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

func (o *fmtOptions) formatFile(path string, sources map[string]*hcl.File) (bool, hcl.Diagnostics) {
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
	fmt.Fprintln(o.stdout, safeText(path)) // a file name a pull request chose
	if o.diff {
		fmt.Fprint(o.stdout, unifiedDiff(safeText(path), string(src), string(out)))
	}
	if !o.check {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			return true, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot write file",
				Detail: fmt.Sprintf("The file %q cannot be written: %s.", path, err)}}
		}
	}
	return true, nil
}

func (o *fmtOptions) formatStream(r io.Reader, w io.Writer, sources map[string]*hcl.File) (bool, hcl.Diagnostics) {
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
// lines of context, "" when they are equal. go-internal's anchored diff runs
// in O(n log n), so a large file cannot make fmt -diff quadratic.
func unifiedDiff(name, a, b string) string {
	d := diff.Diff("old/"+name, []byte(a), "new/"+name, []byte(b))
	// Drop the "diff old/x new/x" line that precedes the ---/+++ header.
	_, rest, _ := bytes.Cut(d, []byte("\n"))
	return string(rest)
}
