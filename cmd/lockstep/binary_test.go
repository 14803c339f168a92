package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinary_deadMethods: the lockstep binary leaves out the go-redis
// commands it never calls. The Go linker keeps every exported method of every
// type once a reflective method lookup (reflect's MethodByName, as
// text/template does) is reachable: that once made the binary 11 MB larger
// and every command slower to start (posener/complete's installer template).
// The symbol lockstep does call is the checker's canary.
func TestBinary_deadMethods(t *testing.T) {
	out, err := exec.Command("go", "tool", "nm", lockstepBin(t)).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	syms := string(out)
	if !strings.Contains(syms, "go-redis/v9.cmdable.ConfigGet") {
		t.Fatal("canary: the go-redis command lockstep calls (CONFIG GET) is not in the symbol table; the check below proves nothing")
	}
	for _, unused := range []string{"go-redis/v9.cmdable.FTCreate", "go-redis/v9.cmdable.XReadGroup"} {
		if strings.Contains(syms, unused) {
			t.Errorf("the binary holds %s, which lockstep never calls: something made the linker keep every method (a reachable reflect MethodByName, e.g. text/template)", unused)
		}
	}
}
