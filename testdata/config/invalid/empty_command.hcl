step "a" {
  command = [] # ERROR: Empty command
}
