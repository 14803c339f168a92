step "a" { # ERROR: Dependency cycle between steps
  shell      = "true"
  depends_on = [step.c]
}
step "b" {
  shell = "echo ${step.a.status}"
}
step "c" {
  shell      = "true"
  depends_on = [step.b]
}
step "d" {
  shell      = "true"
  depends_on = [step.a]
}
