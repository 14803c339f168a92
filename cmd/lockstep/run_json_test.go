package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRunJSON_parsesLineByLine runs `lockstep run -json` in process and
// decodes every stdout line: each is one JSON object with the documented
// common fields, a documented type, and step/lock/status where they apply.
func TestRunJSON_parsesLineByLine(t *testing.T) {
	dir := t.TempDir()
	wf := `
step "a" {
  lock {
    key = "k/a"
  }
  shell = "echo out; echo err >&2"
}
step "b" {
  depends_on = [step.a]
  check {
    condition = step.a.output == "nope"
  }
  shell = "echo never"
}
step "c" {
  depends_on = [step.a]
  shell = "exit 3"
}
step "d" {
  depends_on = [step.c]
  shell = "echo never"
}
output "a" {
  value = step.a.output
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_STATE_HOME", dir) // where run keeps its outputs (lock.DefaultLocalDir's sibling)
	e, stdout, stderr := testEnv(nil)
	code := exitCode(dispatch(e, []string{"run", "-json", "-backend", "local://" + filepath.Join(dir, "locks") + "?create=1", dir}))
	if code != exitFailed {
		t.Errorf("exit code %d, want %d; stderr:\n%s", code, exitFailed, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr not empty with -json:\n%s", stderr.String())
	}
	documented := map[string]bool{"run_start": true, "step_start": true, "lock_wait": true, "lock_acquired": true,
		"lock_lost": true, "lock_released": true, "step_skipped": true, "step_output": true, "step_retry": true,
		"step_done": true, "run_done": true, "diagnostic": true}
	seen := map[string]int{}
	done := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for n := 1; sc.Scan(); n++ {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", n, err, sc.Text())
		}
		ts, _ := ev["@timestamp"].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("line %d: @timestamp %q: %v", n, ts, err)
		}
		for _, f := range []string{"@level", "@message", "type"} {
			if s, _ := ev[f].(string); s == "" {
				t.Errorf("line %d: no %s: %s", n, f, sc.Text())
			}
		}
		typ := ev["type"].(string)
		if !documented[typ] {
			t.Errorf("line %d: undocumented type %q", n, typ)
		}
		seen[typ]++
		if typ != "run_start" && typ != "run_done" && typ != "diagnostic" && ev["step"] == nil {
			t.Errorf("line %d: %s without step", n, typ)
		}
		if (typ == "lock_acquired" || typ == "lock_released") && ev["lock"] != "k/a" {
			t.Errorf("line %d: %s lock %v", n, typ, ev["lock"])
		}
		if typ == "step_done" {
			done[ev["step"].(string)] = ev["status"].(string)
		}
		if typ == "run_done" && (ev["status"] != "failed" || ev["exit_code"] != float64(1)) {
			t.Errorf("run_done: %s", sc.Text())
		}
	}
	want := map[string]string{"step.a": "succeeded", "step.b": "skipped", "step.c": "failed", "step.d": "not_run"}
	for step, status := range want {
		if done[step] != status {
			t.Errorf("%s: step_done status %q, want %q", step, done[step], status)
		}
	}
	for _, typ := range []string{"run_start", "step_start", "lock_acquired", "lock_released", "step_skipped", "step_output", "step_done", "run_done"} {
		if seen[typ] == 0 {
			t.Errorf("no %s event", typ)
		}
	}
}
