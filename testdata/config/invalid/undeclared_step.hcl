step "a" {
  shell = "echo ${step.migrat.status}" # ERROR: Reference to undeclared step
}
step "migrate" { shell = "true" }
