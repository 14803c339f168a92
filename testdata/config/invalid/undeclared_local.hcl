locals { db = "x" }
step "a" {
  shell = local.dbb # ERROR: Reference to undeclared local value
}
