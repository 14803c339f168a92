step "a" {
  shell = "true"
  lock {
    key   = "k"
    limit = 0 # ERROR: Invalid lock limit
  }
}
