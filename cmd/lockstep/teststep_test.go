package main

// teststep is the portable step program that scripts (and workflows, through
// $TESTSTEP) run as a command. Its arguments are a sequence of operations run
// in order:
//
//	sleep D                 sleep for duration D
//	exit N                  exit with status N at once
//	print TEXT              print TEXT and a newline on stdout
//	stderr TEXT             print TEXT and a newline on stderr
//	touch FILE              create FILE (empty)
//	env NAME                print NAME=value of an environment variable on stdout
//	environ                 print the whole environment, NAME=value lines, on stdout
//	wait-file PATH          wait (up to 60s) until PATH exists
//	record FILE LABEL D     append an enter line, sleep D, append an exit line
//	spawn-sleep FILE D      start a grandchild that sleeps D in this process
//	                        group and write its pid to FILE
//	ignore-term             ignore SIGTERM from now on
//	ppid FILE               write the parent's pid to FILE
//	pid FILE                write this process's pid to FILE
//
// record lines are "enter|exit MONOTONIC_NS PID FENCE LABEL", written with
// O_APPEND so that concurrent writers never interleave within a line; FENCE is
// $LOCKSTEP_FENCING_TOKEN (or "-"). checkOverlaps reads them.

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func teststepMain(args []string) int {
	for len(args) > 0 {
		op := args[0]
		n, known := teststepArity[op]
		if !known {
			fmt.Fprintf(os.Stderr, "teststep: unknown operation %q\n", op)
			return 2
		}
		if len(args) < 1+n {
			fmt.Fprintf(os.Stderr, "teststep: %s needs %d arguments\n", op, n)
			return 2
		}
		if code, stop := teststepOp(op, args[1:1+n]); stop {
			return code
		}
		args = args[1+n:]
	}
	return 0
}

var teststepArity = map[string]int{
	"sleep": 1, "exit": 1, "print": 1, "stderr": 1, "touch": 1, "env": 1,
	"wait-file": 1, "ppid": 1, "pid": 1, "record": 3, "spawn-sleep": 2, "ignore-term": 0, "environ": 0,
}

// teststepOp runs one operation; stop is true when teststep must exit with
// code.
func teststepOp(op string, a []string) (code int, stop bool) {
	var err error
	switch op {
	case "sleep":
		var d time.Duration
		if d, err = time.ParseDuration(a[0]); err == nil {
			time.Sleep(d)
		}
	case "exit":
		n, err := strconv.Atoi(a[0])
		if err != nil {
			break
		}
		return n, true
	case "print":
		fmt.Fprintln(os.Stdout, a[0])
	case "stderr":
		fmt.Fprintln(os.Stderr, a[0])
	case "touch":
		err = os.WriteFile(a[0], nil, 0o644)
	case "env":
		fmt.Fprintf(os.Stdout, "%s=%s\n", a[0], os.Getenv(a[0]))
	case "environ":
		for _, kv := range os.Environ() {
			fmt.Fprintln(os.Stdout, kv)
		}
	case "wait-file":
		err = waitForFile(a[0], 60*time.Second)
	case "record":
		err = recordSection(a[0], a[1], a[2])
	case "spawn-sleep":
		err = spawnSleep(a[0], a[1])
	case "ppid":
		err = writeFileAtomic(a[0], strconv.Itoa(os.Getppid())+"\n")
	case "pid":
		err = writeFileAtomic(a[0], strconv.Itoa(os.Getpid())+"\n")
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "teststep %s: %v\n", op, err)
		return 2, true
	}
	return 0, false
}

// waitForFile polls for path until timeout.
func waitForFile(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %s", path, timeout)
		}
		time.Sleep(10 * time.Millisecond) // polling the file system
	}
}

func recordSection(file, label, dur string) error {
	d, err := time.ParseDuration(dur)
	if err != nil {
		return err
	}
	fence := os.Getenv("LOCKSTEP_FENCING_TOKEN")
	if fence == "" {
		fence = "-"
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	line := func(kind string) error {
		// One write per line: O_APPEND makes it atomic with respect to other
		// writers.
		_, err := fmt.Fprintf(f, "%s %d %d %s %s\n", kind, monotonicNS(), os.Getpid(), fence, label)
		return err
	}
	if err := line("enter"); err != nil {
		return err
	}
	time.Sleep(d)
	return line("exit")
}

// spawnSleep starts "teststep sleep D" in this process group and writes its
// pid to file (atomically, so a waiter never reads a partial pid).
func spawnSleep(file, dur string) error {
	if _, err := time.ParseDuration(dur); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "sleep", dur)
	cmd.Args[0] = "teststep"
	if err := cmd.Start(); err != nil {
		return err
	}
	return writeFileAtomic(file, strconv.Itoa(cmd.Process.Pid)+"\n")
}

// writeFileAtomic writes through a temporary file and a rename, so that a
// waiter never sees a partial content.
func writeFileAtomic(file, content string) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
