step "b" { shell = "true" }
step "a" {
  shell      = "true"
  depends_on = [step.b.status] # ERROR: Invalid depends_on reference
}
