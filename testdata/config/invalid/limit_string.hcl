step "a" {
  shell = "true"
  lock {
    key   = "k"
    limit = "two" # ERROR: Incorrect value type
  }
}
