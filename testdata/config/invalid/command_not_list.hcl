step "a" {
  command = "echo hi" # ERROR: Incorrect value type
}
