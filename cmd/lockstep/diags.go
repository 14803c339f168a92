package main

// Owner: config/CLI work (issue 2). Placeholder until the real writer lands.

import (
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// writeDiagnostics prints diags to w in HCL's text form with source snippets
// taken from files, in colour only when w is a terminal and NO_COLOR is unset.
func writeDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	for _, d := range diags {
		fmt.Fprintln(w, d.Error())
	}
}
