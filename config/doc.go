// Package config loads lockstep workflows and checks them statically.
//
// It owns the HCL language of DESIGN section 2: reading a directory or a
// single file (native or JSON syntax), decoding every block into the types of
// config.go with expressions kept unevaluated and with their source ranges,
// the static analysis that validate reports (unknown blocks and attributes,
// types checked by evaluating against unknown values, durations, references,
// functions, cycles), variable resolution, the function table and the
// evaluation Scope that the runner uses.
//
// It knows HCL and go-cty only: it does no logging, talks to no backend, and
// reads workflow files only through its loader. Problems with the source are
// hcl.Diagnostics with a Subject range; the package never panics on hostile
// input (size and nesting are capped before HCL sees a file).
package config
