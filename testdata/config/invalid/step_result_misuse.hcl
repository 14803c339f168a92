step "a" { shell = "true" }
step "b" {
  shell = step.a.exit_code + "x" # ERROR: Invalid operand
}
