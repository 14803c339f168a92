step "a" {
  shell = "true"
  lock {
    key = "k"
    ttl = 5 # ERROR: Invalid duration
  }
}
