package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
)

// MaxFileSize is the largest workflow file Load accepts, in bytes.
const MaxFileSize = 10 << 20

// Load reads a workflow from path: a directory (every *.hcl and *.hcl.json file
// directly inside it, in lexical order, hidden files skipped) or a single file.
// It decodes every block and runs every static check (unknown blocks and
// attributes, literal types, durations, references, functions, cycles), keeping
// going after errors so that one run reports every problem. The returned
// Workflow is non-nil whenever any file parsed, even with error diagnostics, so
// its Files can be used to print snippets; when a file has syntax errors only
// those are reported and the Workflow holds nothing but Dir and Files.
// Diagnostics come sorted by file and position. It never panics on hostile
// input: files over MaxFileSize and files nested deeper than MaxNesting are
// refused before HCL sees them, and evaluation that takes too long is
// abandoned with a diagnostic.
func Load(path string, opts *LoadOptions) (*Workflow, hcl.Diagnostics) {
	if opts == nil {
		opts = &LoadOptions{}
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	files := fileSystem{fsys: opts.FS}
	dir, names, single, diags := workflowFiles(files, path)
	if diags.HasErrors() {
		return nil, diags
	}
	var srcs []source
	for _, name := range names {
		display := files.join(path, name)
		if single {
			display = path
		}
		src, d := readWorkflowFile(files, files.join(dir, name), display)
		diags = append(diags, d...)
		if !d.HasErrors() {
			srcs = append(srcs, source{name: display, src: src})
		}
	}
	w, d := loadSources(files.abs(dir), files, srcs, getenv)
	if w != nil {
		w.displayDir = dir
	}
	diags = append(diags, d...)
	sortDiags(diags) // read errors of later files come before parse errors of earlier ones
	return w, diags
}

// source is one workflow file's bytes and the name diagnostics use for it.
type source struct {
	name string
	src  []byte
}

// loadSources parses, decodes and checks a workflow made of srcs; Load sorts
// the diagnostics. When any file fails to parse, only the parse errors are
// reported: decoding a partial file would add confusing follow-on errors.
// Each file is decoded as soon as it is parsed (a large one chunk by chunk),
// so that only the decoded blocks, not the syntax trees of whole bodies,
// stay in memory.
func loadSources(dir string, files fileSystem, srcs []source, getenv func(string) string) (*Workflow, hcl.Diagnostics) {
	w, diags := loadParsed(dir, files, srcs, getenv, true)
	if w == errChunks {
		// A large file could not be parsed in chunks: parse every file whole.
		w, diags = loadParsed(dir, files, srcs, getenv, false)
	}
	return w, diags
}

// errChunks is what loadParsed returns when a file could not be parsed in
// chunks.
var errChunks = &Workflow{}

func loadParsed(dir string, files fileSystem, srcs []source, getenv func(string) string, chunks bool) (*Workflow, hcl.Diagnostics) {
	w := newWorkflow(dir, files)
	var parseDiags, diags hcl.Diagnostics
	for _, s := range srcs {
		f, pd, dd, ok := w.parseAndDecode(s, getenv, chunks)
		if !ok {
			return errChunks, nil
		}
		parseDiags, diags = append(parseDiags, pd...), append(diags, dd...)
		if f != nil {
			w.Files[s.name] = f
		}
	}
	if len(w.Files) == 0 {
		return nil, parseDiags
	}
	if parseDiags.HasErrors() {
		kept := w.Files
		w = newWorkflow(dir, files)
		w.Files = kept
		return w, parseDiags
	}
	diags = append(parseDiags, diags...)
	diags = append(diags, safely("checking", func() hcl.Diagnostics {
		return w.check(getenv)
	})...)
	return w, diags
}

func newWorkflow(dir string, files fileSystem) *Workflow {
	return &Workflow{
		Dir:       dir,
		files:     files,
		Files:     map[string]*hcl.File{},
		Variables: map[string]*Variable{},
		Locals:    map[string]*Local{},
		Steps:     map[string]*Step{},
		Outputs:   map[string]*Output{},
		Locks:     map[string]*WorkflowLock{},
	}
}

// parseAndDecode parses one file and decodes its blocks into w, returning
// the file (its bytes and a navigation for diagnostics, the syntax tree of
// its body dropped), the parse diagnostics and the decode diagnostics. A
// large file of native syntax is parsed in chunks (when chunks is set); ok
// is false when that failed part-way.
func (w *Workflow) parseAndDecode(s source, getenv func(string) string, chunks bool) (f *hcl.File, pd, dd hcl.Diagnostics, ok bool) {
	decode := func(body hcl.Body) hcl.Diagnostics {
		return safely("decoding", func() hcl.Diagnostics {
			return w.decodeBody(body, getenv)
		})
	}
	if chunks && !strings.HasSuffix(s.name, ".json") && len(s.src) > 2*chunkSize && !CheckSource(s.src, s.name).HasErrors() {
		nav := &blockNav{}
		failed := safely("parsing", func() hcl.Diagnostics {
			if !eachChunk(s.src, s.name, func(b *hclsyntax.Body) {
				nav.add(b)
				dd = append(dd, decode(b)...)
			}) {
				return hcl.Diagnostics{{Severity: hcl.DiagError}}
			}
			return nil
		})
		if failed.HasErrors() {
			return nil, nil, nil, false
		}
		return &hcl.File{Bytes: s.src, Nav: nav}, nil, dd, true
	}
	f, pd = ParseSource(s.src, s.name)
	if f == nil || f.Body == nil {
		return nil, pd, nil, true
	}
	if pd.HasErrors() {
		return f, pd, nil, true
	}
	dd = decode(f.Body)
	lighten(f)
	return f, pd, dd, true
}

// workflowFiles returns the directory to read from, the file names in it
// that make up the workflow, and whether path is a single file.
func workflowFiles(files fileSystem, path string) (string, []string, bool, hcl.Diagnostics) {
	st, err := files.stat("", path)
	if err != nil {
		return "", nil, false, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read workflow",
			Detail:   fmt.Sprintf("The workflow path %q cannot be read: %s.", path, errText(err)),
		}}
	}
	if !st.IsDir() {
		return files.dir(path), []string{st.Name()}, true, nil
	}
	entries, err := files.readDir(path)
	if err != nil {
		return "", nil, false, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read workflow directory",
			Detail:   fmt.Sprintf("The directory %q cannot be listed: %s.", path, errText(err)),
		}}
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && isWorkflowFile(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "", nil, false, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No workflow files",
			Detail:   fmt.Sprintf("The directory %q contains no *.hcl or *.hcl.json files.", path),
		}}
	}
	return path, names, false, nil
}

// isWorkflowFile reports whether a file of a workflow directory is part of
// the workflow: *.hcl and *.hcl.json, not hidden. Variable files (*.vars)
// never are.
func isWorkflowFile(name string) bool {
	return !strings.HasPrefix(name, ".") && (strings.HasSuffix(name, ".hcl") || strings.HasSuffix(name, ".hcl.json"))
}

// ParseSource parses one file's bytes the way Load does (size and nesting
// checks first), choosing JSON syntax when filename ends in ".json". It is
// what fmt and var-file reading use.
func ParseSource(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	if d := CheckSource(src, filename); d.HasErrors() {
		return nil, d
	}
	var f *hcl.File
	diags := safely("parsing", func() hcl.Diagnostics {
		var d hcl.Diagnostics
		if strings.HasSuffix(filename, ".json") {
			f, d = hcljson.Parse(src, filename)
		} else {
			f, d = hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
		}
		return d
	})
	return f, diags
}

// readWorkflowFile reads one workflow file of at most MaxFileSize bytes.
func readWorkflowFile(files fileSystem, name, display string) ([]byte, hcl.Diagnostics) {
	src, n, err := files.readCapped("", name, MaxFileSize, false)
	switch {
	case errors.Is(err, errTooLarge):
		return nil, hcl.Diagnostics{tooLarge(display, n)}
	case err != nil:
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read file",
			Detail: fmt.Sprintf("The file %s cannot be read: %s.", display, errText(err))}}
	}
	return src, nil
}

func tooLarge(display string, size int64) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Workflow file too large",
		Detail: fmt.Sprintf("The file %s is %d bytes; workflow files may be at most %d bytes (10 MB).",
			display, size, MaxFileSize),
		Subject: &hcl.Range{Filename: display, Start: hcl.InitialPos, End: hcl.InitialPos},
	}
}

// safely runs f and turns a panic into an error diagnostic, so that a bug
// reachable from hostile input reports instead of crashing.
func safely(what string, f func() hcl.Diagnostics) (diags hcl.Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Internal error",
				Detail: fmt.Sprintf("lockstep failed while %s the workflow (%v). This is a bug in lockstep; "+
					"please report it with the workflow that caused it.", what, r),
			})
		}
	}()
	return f()
}

// errText is err's message without a trailing period, for embedding in a sentence.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return strings.TrimSuffix(err.Error(), ".")
}
