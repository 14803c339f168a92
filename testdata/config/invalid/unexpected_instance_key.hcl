step "b" { shell = "true" }
step "a" {
  shell = step.b["x"].output # ERROR: Unexpected step instance key
}
