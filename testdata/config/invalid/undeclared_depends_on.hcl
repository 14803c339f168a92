step "a" {
  shell      = "true"
  depends_on = [step.b] # ERROR: Reference to undeclared step
}
