package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lockstep-dev/lockstep/lock/locktest"
)

// BenchmarkRunProcess_oneLockedStep measures `lockstep run` of a one-step
// workflow that holds one Redis lock and runs true, as a whole process, next
// to the floor (exec of true itself) and, when a go-task binary is found
// (TASK_BIN, or task in PATH), `task` running a no-op task. Target: lockstep
// at most a quarter of go-task.
func BenchmarkRunProcess_oneLockedStep(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "lockstep")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	srv := locktest.StartServer(b, nil)
	dir := b.TempDir()
	wf := "step \"s\" {\n  lock {\n    key = \"bench\"\n  }\n  command = [\"true\"]\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(wf), 0o644); err != nil {
		b.Fatal(err)
	}
	task := "version: '3'\ntasks:\n  noop:\n    cmds:\n      - true\n"
	if err := os.WriteFile(filepath.Join(dir, "Taskfile.yml"), []byte(task), 0o644); err != nil {
		b.Fatal(err)
	}
	env := append(os.Environ(), "LOCKSTEP_BACKEND="+srv.URL(), "LOCKSTEP_LOG=")
	run := func(b *testing.B, argv ...string) {
		for b.Loop() {
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Dir, cmd.Env = dir, env
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %v\n%s", argv, err, out)
			}
		}
	}
	truePath, _ := exec.LookPath("true")
	b.Run("floor-true", func(b *testing.B) { run(b, truePath) })
	b.Run("lockstep-run", func(b *testing.B) { run(b, bin, "run", dir) })
	taskBin := os.Getenv("TASK_BIN")
	if taskBin == "" {
		taskBin, _ = exec.LookPath("task")
	}
	if taskBin == "" {
		b.Log("go-task not found (set TASK_BIN): no side-by-side figure")
		return
	}
	b.Run("go-task-noop", func(b *testing.B) { run(b, taskBin, "--silent", "noop") })
}
