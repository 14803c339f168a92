package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/lockstep-dev/lockstep/config"
)

const graphHelp = `  Print the step dependency graph of the workflow at PATH (default ".") in
  the DOT language, for Graphviz: one node per step, one edge from each step
  to every step it depends on. Solid edges come from depends_on, dashed ones
  from references such as step.NAME.output in the step's expressions. The
  output is deterministic. An invalid workflow prints its diagnostics and
  exits 2.

  Example: lockstep graph | dot -Tsvg > graph.svg`

func graphMain(args []string) int {
	fs := newFlagSet("graph", "graph [PATH]", graphHelp)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	path, ok := workflowPath(fs)
	if !ok {
		return exitUsage
	}
	w, diags := config.Load(path, nil)
	if diags.HasErrors() {
		var files map[string]*hcl.File
		if w != nil {
			files = w.Files
		}
		writeDiagnostics(os.Stderr, files, diags)
		return exitUsage
	}
	writeDiagnostics(os.Stderr, w.Files, diags)
	writeDOT(os.Stdout, w)
	return exitOK
}

// writeDOT prints w's step graph. Nodes come in execution order, edges
// sorted by dependent then dependency.
func writeDOT(out io.Writer, w *config.Workflow) {
	var b strings.Builder
	b.WriteString("digraph lockstep {\n")
	b.WriteString("  rankdir = \"RL\";\n")
	b.WriteString("  node [shape = box];\n")
	order := w.Order()
	for _, name := range order {
		label := "step." + name
		if w.Steps[name].ForEach != nil {
			label += "[each]"
		}
		fmt.Fprintf(&b, "  %q [label = %q];\n", "step."+name, label)
	}
	for _, name := range order {
		explicit := map[string]bool{}
		for _, tr := range w.Steps[name].DependsOn {
			if len(tr) == 2 {
				if a, ok := tr[1].(hcl.TraverseAttr); ok {
					explicit[a.Name] = true
				}
			}
		}
		for _, dep := range w.Dependencies(name) {
			style := ""
			if !explicit[dep] {
				style = " [style = dashed]"
			}
			fmt.Fprintf(&b, "  %q -> %q%s;\n", "step."+name, "step."+dep, style)
		}
	}
	b.WriteString("}\n")
	_, _ = io.WriteString(out, b.String())
}
