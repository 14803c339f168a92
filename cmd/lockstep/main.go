// Command lockstep runs declarative workflows whose steps coordinate through
// distributed locks. See the README and docs/cli.md.
package main

import "os"

func main() { os.Exit(Main()) }
