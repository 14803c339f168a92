step "a" {
  shell      = "true"
  depends_on = [step.a] # ERROR: Self-referential step
}
