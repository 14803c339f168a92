package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/lockstep-dev/lockstep/config"
)

func graphCommand() *command {
	return &command{
		name:     "graph",
		synopsis: "Print the step dependency graph in DOT (for Graphviz)",
		usage:    "graph [PATH]",
		help: `Print the step dependency graph of the workflow at PATH (default ".") in the
DOT language, for Graphviz (https://graphviz.org): one node per step, one edge
from each step to every step it depends on. Solid edges come from depends_on,
dashed ones from references such as step.NAME.output in the step's
expressions. Each workflow-level lock is an ellipse joined by dotted lines to
the steps of its scope (or labelled "whole run"). The output is deterministic.
An invalid workflow prints its diagnostics and exits 2.

Render it with Graphviz's dot: lockstep graph | dot -Tsvg > graph.svg`,
		args:  argPath,
		setup: func(fs *flag.FlagSet) runFunc { return runGraph },
	}
}

func runGraph(e *env, args []string) error {
	path, err := workflowPath(args)
	if err != nil {
		return err
	}
	w, diags := config.Load(path, nil)
	e.diagnostics(workflowFiles(w), diags)
	if diags.HasErrors() {
		return reported(usagef("the workflow has errors"))
	}
	writeDOT(e.stdout, w)
	return nil
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
	writeDOTLocks(&b, w)
	b.WriteString("}\n")
	_, _ = io.WriteString(out, b.String())
}

// writeDOTLocks adds the workflow-level locks and their scopes.
func writeDOTLocks(b *strings.Builder, w *config.Workflow) {
	for _, name := range sortedNames(w.Locks) {
		label := "lock." + name
		if w.Locks[name].Steps == nil {
			label += "\n(whole run)"
		}
		fmt.Fprintf(b, "  %q [shape = ellipse, label = %q];\n", "lock."+name, label)
		if w.Locks[name].Steps == nil {
			continue
		}
		for _, step := range w.LockScope(name) {
			fmt.Fprintf(b, "  %q -> %q [style = dotted, arrowhead = none];\n", "lock."+name, "step."+step)
		}
	}
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
