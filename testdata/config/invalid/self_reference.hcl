step "a" {
  shell = "echo ${step.a.output}" # ERROR: Self-referential step
}
