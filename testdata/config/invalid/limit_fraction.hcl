step "a" {
  shell = "true"
  lock {
    key   = "k"
    limit = 1.5 # ERROR: Invalid lock limit
  }
}
