package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shapeLimits are the house rules for cmd/lockstep (issue 9.4): files of at
// most 400 lines, functions of at most 60 lines and 5 parameters, and no
// process stream below Main.
type shapeLimits struct{ fileLines, funcLines, params int }

var houseRules = shapeLimits{fileLines: 400, funcLines: 60, params: 5}

// checkShape returns every breach of limits in the Go source src (named
// name). Only main.go's Main may name os.Stdin, os.Stdout or os.Stderr.
func checkShape(name string, src []byte, limits shapeLimits) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, 0)
	if err != nil {
		return []string{err.Error()}
	}
	var bad []string
	if n := fset.Position(f.End()).Line; n > limits.fileLines {
		bad = append(bad, fmt.Sprintf("%s: %d lines (at most %d)", name, n, limits.fileLines))
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			lines := fset.Position(n.End()).Line - fset.Position(n.Pos()).Line + 1
			if lines > limits.funcLines {
				bad = append(bad, fmt.Sprintf("%s: func %s: %d lines (at most %d)", name, n.Name.Name, lines, limits.funcLines))
			}
			if p := n.Type.Params.NumFields(); p > limits.params {
				bad = append(bad, fmt.Sprintf("%s: func %s: %d parameters (at most %d)", name, n.Name.Name, p, limits.params))
			}
			if n.Name.Name == "Main" && name == "main.go" {
				return false // the one place allowed to touch the process
			}
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && id.Name == "os" && strings.HasPrefix(n.Sel.Name, "Std") {
				bad = append(bad, fmt.Sprintf("%s:%d: os.%s below Main", name, fset.Position(n.Pos()).Line, n.Sel.Name))
			}
		}
		return true
	})
	return bad
}

// TestCLIShape checks every product file of cmd/lockstep against the house
// rules.
func TestCLIShape(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range checkShape(name, src, houseRules) {
			t.Error(b)
		}
		checked++
	}
	t.Logf("%d product files checked", checked)
}

// TestCLIShape_canary: the checker flags each breach it looks for.
func TestCLIShape_canary(t *testing.T) {
	src := `package main
import "os"
func tooMany(a, b, c, d, e, f int) {}
func long() {
` + strings.Repeat("\t_ = 1\n", 61) + `}
func w() { os.Stdout.Write(nil) }
`
	bad := checkShape("x.go", []byte(src), shapeLimits{fileLines: 10, funcLines: 60, params: 5})
	for _, want := range []string{"x.go: ", "func tooMany: 6 parameters", "func long: 63 lines", "os.Stdout below Main"} {
		found := false
		for _, b := range bad {
			found = found || strings.Contains(b, want)
		}
		if !found {
			t.Errorf("the checker misses %q: %v", want, bad)
		}
	}
}
