package main

import (
	"encoding/json"
	"io"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
)

// planValue is a value in plan -json: known with its value, known after some
// steps, or sensitive.
type planValue struct {
	Value     json.RawMessage `json:"value,omitempty"`
	Known     bool            `json:"known"`
	Sensitive bool            `json:"sensitive,omitempty"`
	After     []string        `json:"known_after,omitempty"`
}

type planLock struct {
	Label   string     `json:"label,omitempty"`
	Key     *planValue `json:"key"`
	TTL     *planValue `json:"ttl"`
	Timeout *planValue `json:"timeout"`
	OnBusy  *planValue `json:"on_busy"`
	Limit   *planValue `json:"limit"`
	Now     *lockState `json:"now,omitempty"`
}

type planCheck struct {
	Condition       *planValue `json:"condition,omitempty"`
	ConditionSource string     `json:"condition_source,omitempty"`
	Command         *planValue `json:"command,omitempty"`
}

type planStep struct {
	Address      string           `json:"address"`
	Step         string           `json:"step"`
	Description  string           `json:"description,omitempty"`
	DependsOn    []string         `json:"depends_on,omitempty"`
	ForEachAfter []string         `json:"for_each_known_after,omitempty"`
	Command      *planValue       `json:"command,omitempty"`
	Shell        *planValue       `json:"shell,omitempty"`
	Env          *planValue       `json:"env,omitempty"`
	Dir          *planValue       `json:"dir,omitempty"`
	Timeout      *planValue       `json:"timeout,omitempty"`
	Locks        []planLock       `json:"locks,omitempty"`
	OnceKey      *planValue       `json:"once_key,omitempty"`
	OnceMarker   *lock.OnceRecord `json:"once_marker,omitempty"`
	Checks       []planCheck      `json:"checks,omitempty"`
	Errors       []string         `json:"errors,omitempty"`
}

func toPlanValue(v *runner.PreviewValue) *planValue {
	if v == nil {
		return nil
	}
	out := &planValue{Known: v.Known && !v.Sensitive, Sensitive: v.Sensitive, After: v.After}
	switch {
	case out.Known && json.Valid([]byte(v.Text)):
		out.Value = json.RawMessage(v.Text)
	case out.Known:
		out.Value, _ = json.Marshal(v.Text)
	}
	return out
}

func toPlanStep(pi *runner.PreviewInstance, st *planState) planStep {
	ps := planStep{Address: pi.Address, Step: pi.Step, Description: pi.Description, DependsOn: pi.DependsOn,
		ForEachAfter: pi.ForEachAfter, Env: toPlanValue(pi.Env), Dir: toPlanValue(pi.Dir),
		Timeout: toPlanValue(pi.Timeout), OnceKey: toPlanValue(pi.OnceKey)}
	if pi.Shell {
		ps.Shell = toPlanValue(pi.Command)
	} else {
		ps.Command = toPlanValue(pi.Command)
	}
	for _, l := range pi.Locks {
		pl := planLock{Label: l.Label, Key: toPlanValue(&l.Key), TTL: toPlanValue(&l.TTL), Timeout: toPlanValue(&l.Timeout),
			OnBusy: toPlanValue(&l.OnBusy), Limit: toPlanValue(&l.Limit)}
		if ls, ok := st.Locks[l.Key.Raw]; ok && l.Key.Raw != "" {
			pl.Now = &ls
		}
		ps.Locks = append(ps.Locks, pl)
	}
	if pi.OnceKey != nil && pi.OnceKey.Raw != "" {
		ps.OnceMarker = st.Onces[pi.OnceKey.Raw]
	}
	for _, c := range pi.Checks {
		ps.Checks = append(ps.Checks, planCheck{Condition: toPlanValue(c.Condition), ConditionSource: c.ConditionSource,
			Command: toPlanValue(c.Command)})
	}
	for _, d := range pi.Diags {
		ps.Errors = append(ps.Errors, d.Error())
	}
	return ps
}

// writePlanJSON prints the plan as one JSON document (docs/cli/plan.md). It
// returns exit code 2 when a step could not be evaluated, else 0.
func writePlanJSON(w io.Writer, instances []*runner.PreviewInstance, st *planState) int {
	doc := struct {
		Backend *planState `json:"backend"`
		Steps   []planStep `json:"steps"`
	}{Backend: &planState{Backend: st.Backend, Reachable: st.Reachable, Error: st.Error}, Steps: []planStep{}}
	code := exitOK
	for _, pi := range instances {
		ps := toPlanStep(pi, st)
		if len(ps.Errors) > 0 {
			code = exitUsage
		}
		doc.Steps = append(doc.Steps, ps)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(doc)
	return code
}
