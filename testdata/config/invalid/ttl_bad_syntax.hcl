step "a" {
  shell = "true"
  lock {
    key = "k"
    ttl = "5 minutes" # ERROR: Invalid duration
  }
}
