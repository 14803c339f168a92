package main

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// alive reports whether pid is a running process.
func alive(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	var code uint32
	const stillActive = 259
	return windows.GetExitCodeProcess(h, &code) == nil && code == stillActive
}

// hasWatchdog is true: lockstep starts no watchdog process on Windows, so
// there is none to wait for.
func hasWatchdog(pid int) bool { return true }

// watchdogVisible is false: see hasWatchdog.
func watchdogVisible() bool { return false }

// killPid kills process pid at once.
func killPid(pid int) {
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return
	}
	defer windows.CloseHandle(h)
	windows.TerminateProcess(h, 137)
}

var (
	kernel32 = windows.NewLazySystemDLL("kernel32.dll")
	qpc      = kernel32.NewProc("QueryPerformanceCounter")
	qpf      = kernel32.NewProc("QueryPerformanceFrequency")
)

// monotonicNS is the performance counter in nanoseconds: comparable across
// the processes of one host.
func monotonicNS() int64 {
	var count, freq int64
	qpc.Call(uintptr(unsafe.Pointer(&count)))
	qpf.Call(uintptr(unsafe.Pointer(&freq)))
	return count/freq*1e9 + count%freq*1e9/freq
}
