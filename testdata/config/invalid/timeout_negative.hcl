step "a" {
  shell   = "true"
  timeout = "-5s" # ERROR: Duration too short
  lock {
    key     = "k"
    timeout = "-1m" # ERROR: Duration too short
  }
}
