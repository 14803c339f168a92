step "b" { shell = "true" }
step "a" {
  shell = "echo ${step.b.stdout}" # ERROR: Invalid step attribute
}
