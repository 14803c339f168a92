// Package supervise runs the commands of lockstep's steps (and of `lockstep
// exec`) so that a command never outlives the lock that protects it: each
// command runs in a group of its own, stopping it stops the whole group, and
// the group dies with lockstep however lockstep dies (kill -9 included).
//
// What it owns:
//
//   - Start: a command in a new group — a process group on Unix, a Job Object
//     on Windows — with its exit code (128+signal when a signal ended it).
//   - Terminate: a polite request to the whole group (SIGTERM; CTRL_BREAK on
//     Windows), then a kill of the whole group after the kill timeout. Stopped
//     is closed only once no member of the group is left (not merely the
//     command itself), so a caller releases its lock only after that.
//   - Parent death, by each OS's means:
//     Linux: the command's parent-death signal (SIGKILL, armed on an OS
//     thread that lives as long as the command) plus the watchdog for the
//     rest of its group, started 10 ms after a command starts if one still
//     runs then (commands that all end sooner never start it);
//     macOS and other Unix: the watchdog alone, started before the first
//     command; on macOS it also watches lockstep with kqueue (EVFILT_PROC,
//     NOTE_EXIT) in case its pipe never reaches end of file;
//     Windows: the Job Object's JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE (the job
//     handle closes when lockstep dies; no watchdog).
//   - "Group empty": on Linux from /proc (zombies do not count), on macOS from
//     sysctl kern.proc.pgrp (zombies do not count), on other Unix kill(-pgid,
//     0) (a zombie nobody reaps counts until groupGoneWait gives up), on
//     Windows from the job's active process count.
//   - The watchdog (Unix): the lockstep binary re-executed with WatchdogArg,
//     reading "+PGID"/"-PGID" lines on a pipe and killing every registered
//     group when the pipe reaches end of file (on Linux it reads them every
//     50 ms, woken at once by the pipe's hang-up, not by each line). A program that calls
//     EnableWatchdog must dispatch WatchdogArg to WatchdogMain first thing in
//     main.
//
// What it leaves to others: when to stop a command (a lost lock, a timeout, a
// signal to lockstep) is the runner's and the CLI's decision; the command's
// environment and output handling are theirs too. Process-wide state is the
// watchdog only (one per lockstep process).
//
// Verification: the tests run on Linux. The macOS, other-Unix and Windows
// files are cross-compiled and vetted (`.ci/run`), not run, on this project's
// CI; the Linux tests also run the watchdog the way macOS uses it (no
// parent-death signal, no start delay).
package supervise
