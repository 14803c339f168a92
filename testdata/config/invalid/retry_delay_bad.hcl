step "a" {
  shell = "true"
  retry {
    attempts = 0 # ERROR: Invalid retry attempts
    delay    = "5" # ERROR: Invalid duration
  }
}
