package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// overlapReport is what checkOverlaps found in a teststep record file.
type overlapReport struct {
	Sections        int // complete enter/exit pairs
	MaxConcurrent   int // most holders inside at once
	Overlaps        int // enters that made more than max holders inside
	FenceViolations int // enters whose fence was not above the previous enter's (max 1 only)
}

func (r overlapReport) String() string {
	return fmt.Sprintf("%d sections, at most %d at once, %d overlaps, %d fence violations",
		r.Sections, r.MaxConcurrent, r.Overlaps, r.FenceViolations)
}

type recordEvent struct {
	enter bool
	at    int64
	pid   string
	fence int64 // -1 when unknown
}

// checkOverlaps reads teststep record lines ("enter|exit NS PID FENCE LABEL")
// and counts the moments more than max sections were open at once and, when
// max is 1, the enters whose fencing token did not strictly increase. Events
// at the same instant order exits first. A missing exit counts as a section
// still open at the end.
func checkOverlaps(data string, limit int) (overlapReport, error) {
	var evs []recordEvent
	for i, line := range strings.Split(strings.TrimSpace(data), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || (f[0] != "enter" && f[0] != "exit") {
			return overlapReport{}, fmt.Errorf("line %d: malformed record %q", i+1, line)
		}
		at, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return overlapReport{}, fmt.Errorf("line %d: bad time: %v", i+1, err)
		}
		fence, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			fence = -1
		}
		evs = append(evs, recordEvent{enter: f[0] == "enter", at: at, pid: f[2], fence: fence})
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return !evs[i].enter && evs[j].enter
	})
	var r overlapReport
	inside, lastFence := 0, int64(-1)
	for _, e := range evs {
		if !e.enter {
			inside--
			r.Sections++
			continue
		}
		inside++
		r.MaxConcurrent = max(r.MaxConcurrent, inside)
		if inside > limit {
			r.Overlaps++
		}
		if limit == 1 {
			if e.fence < 0 || e.fence <= lastFence {
				r.FenceViolations++
			}
			lastFence = max(lastFence, e.fence)
		}
	}
	return r, nil
}

func TestCheckOverlaps(t *testing.T) {
	for _, tc := range []struct {
		name, data                   string
		max, wantOverlaps, wantFence int
	}{
		{"serial", "enter 1 10 1 a\nexit 2 10 1 a\nenter 3 11 2 b\nexit 4 11 2 b\n", 1, 0, 0},
		{"touching is not overlapping", "enter 1 10 1 a\nexit 2 10 1 a\nenter 2 11 2 b\nexit 4 11 2 b\n", 1, 0, 0},
		{"canary: overlap", "enter 1 10 1 a\nenter 2 11 2 b\nexit 3 10 1 a\nexit 4 11 2 b\n", 1, 1, 0},
		{"canary: decreasing fence", "enter 1 10 5 a\nexit 2 10 5 a\nenter 3 11 4 b\nexit 4 11 4 b\n", 1, 0, 1},
		{"canary: repeated fence", "enter 1 10 5 a\nexit 2 10 5 a\nenter 3 11 5 b\nexit 4 11 5 b\n", 1, 0, 1},
		{"missing fence", "enter 1 10 - a\nexit 2 10 - a\n", 1, 0, 1},
		{"semaphore of 2 allows 2", "enter 1 10 1 a\nenter 2 11 2 b\nexit 3 10 1 a\nexit 4 11 2 b\n", 2, 0, 0},
		{"semaphore of 2, three inside", "enter 1 10 1 a\nenter 2 11 2 b\nenter 3 12 3 c\nexit 4 10 1 a\nexit 5 11 2 b\nexit 6 12 3 c\n", 2, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := checkOverlaps(tc.data, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if r.Overlaps != tc.wantOverlaps || r.FenceViolations != tc.wantFence {
				t.Errorf("got %s, want %d overlaps and %d fence violations", r, tc.wantOverlaps, tc.wantFence)
			}
		})
	}
	if _, err := checkOverlaps("enter x 1 1 a\n", 1); err == nil {
		t.Error("malformed time accepted")
	}
}
