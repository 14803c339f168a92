package supervise

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// killExitCode is the exit code TerminateJobObject gives every process of a
// killed group: 128+SIGKILL, as a killed command reports on Unix.
const killExitCode = 128 + 9

// lingerPoll is how often a group that outlived its leader is checked for
// being empty, so that its job handle can be closed.
const lingerPoll = 100 * time.Millisecond

// osGroup is the command's Job Object. It is created with
// JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and never inherited, so when lockstep
// dies (however it dies) the system closes the handle and kills every
// process of the job. lockstep closes it itself once the job is empty.
type osGroup struct {
	mu  sync.Mutex
	job windows.Handle // 0 once closed
}

// launch creates the job, starts cmd suspended in a new console process
// group, assigns it to the job before it runs a single instruction (so
// nothing it starts escapes the job), resumes it and reaps it from a
// goroutine of its own.
func (p *Process) launch(cmd *exec.Cmd) error {
	job, err := newKillOnCloseJob()
	if err != nil {
		return fmt.Errorf("start process: job object: %w", err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.CREATE_SUSPENDED,
	}
	if err := cmd.Start(); err != nil {
		windows.CloseHandle(job)
		return err
	}
	p.pid = cmd.Process.Pid
	if err := assignAndResume(job, p.pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		windows.CloseHandle(job)
		return fmt.Errorf("start process: %w", err)
	}
	p.group.job = job
	go p.reap(cmd)
	return nil
}

// newKillOnCloseJob creates an unnamed, non-inheritable Job Object whose
// processes are killed when its last handle closes. Processes created with
// CREATE_BREAKAWAY_FROM_JOB may leave it (a daemon meant to outlive
// lockstep, as setsid on Unix).
func newKillOnCloseJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, err
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | windows.JOB_OBJECT_LIMIT_BREAKAWAY_OK
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return 0, err
	}
	return job, nil
}

// assignAndResume puts the suspended process pid into job and resumes its
// only thread.
func assignAndResume(job windows.Handle, pid int) error {
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		return fmt.Errorf("assign process %d to its job object: %w", pid, err)
	}
	return resumeProcess(pid)
}

// resumeProcess resumes the threads of the suspended process pid (one, right
// after CreateProcess with CREATE_SUSPENDED).
func resumeProcess(pid int) error {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return fmt.Errorf("resume process %d: %w", pid, err)
	}
	defer windows.CloseHandle(snap)
	te := windows.ThreadEntry32{Size: uint32(unsafe.Sizeof(windows.ThreadEntry32{}))}
	resumed := 0
	for err = windows.Thread32First(snap, &te); err == nil; err = windows.Thread32Next(snap, &te) {
		if te.OwnerProcessID != uint32(pid) {
			continue
		}
		th, err := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, te.ThreadID)
		if err != nil {
			return fmt.Errorf("resume process %d: open thread: %w", pid, err)
		}
		_, err = windows.ResumeThread(th)
		windows.CloseHandle(th)
		if err != nil {
			return fmt.Errorf("resume process %d: %w", pid, err)
		}
		resumed++
	}
	if resumed == 0 {
		return fmt.Errorf("resume process %d: no thread found", pid)
	}
	return nil
}

// reap waits for the command, then closes the job handle once the job is
// empty (at once if nothing outlived the command).
func (p *Process) reap(cmd *exec.Cmd) {
	cmd.Wait() // the exit status is in ProcessState whatever the copy error
	p.code = exitCode(cmd.ProcessState)
	close(p.done)
	tick := time.NewTicker(lingerPoll)
	defer tick.Stop()
	for p.hasLiveMember() {
		<-tick.C
	}
	p.group.mu.Lock()
	defer p.group.mu.Unlock()
	windows.CloseHandle(p.group.job)
	p.group.job = 0
}

// exitCode is the command's exit code.
func exitCode(st *os.ProcessState) int {
	if st == nil {
		return -1
	}
	return st.ExitCode()
}

// interrupt sends CTRL_BREAK to the command's console process group; it
// reaches console programs attached to lockstep's console (others only get
// killed after the kill timeout).
func (p *Process) interrupt() {
	_ = windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(p.pid))
}

func (p *Process) kill() {
	p.group.mu.Lock()
	defer p.group.mu.Unlock()
	if p.group.job != 0 {
		_ = windows.TerminateJobObject(p.group.job, killExitCode)
	}
}

func (p *Process) groupExists() bool { return p.hasLiveMember() }

// hasLiveMember reports whether the job still has an active process; a job
// that cannot be queried counts as alive.
func (p *Process) hasLiveMember() bool {
	n, err := p.activeProcesses()
	return err != nil || n > 0
}

// activeProcesses is the number of processes in the command's job (0 once
// the job handle is closed).
func (p *Process) activeProcesses() (uint32, error) {
	p.group.mu.Lock()
	defer p.group.mu.Unlock()
	if p.group.job == 0 {
		return 0, nil
	}
	var info jobAccounting
	err := windows.QueryInformationJobObject(p.group.job, windows.JobObjectBasicAccountingInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)), nil)
	return info.ActiveProcesses, err
}

// jobAccounting is JOBOBJECT_BASIC_ACCOUNTING_INFORMATION.
type jobAccounting struct {
	TotalUserTime             int64
	TotalKernelTime           int64
	ThisPeriodTotalUserTime   int64
	ThisPeriodTotalKernelTime int64
	TotalPageFaultCount       uint32
	TotalProcesses            uint32
	ActiveProcesses           uint32
	TotalTerminatedProcesses  uint32
}
