step "a" {
  shell = "true"
  lock {
    key = "k"
    ttl = "500ms" # ERROR: Duration too short
  }
}
