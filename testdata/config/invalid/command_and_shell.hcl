step "a" {
  command = ["true"]
  shell   = "true" # ERROR: Conflicting command and shell
}
