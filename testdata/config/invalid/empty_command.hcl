step "a" {
  command = [] # ERROR: Empty command
}
step "b" {
  command = null # ERROR: Empty command
}
