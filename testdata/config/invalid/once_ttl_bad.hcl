step "a" {
  shell = "true"
  once {
    key = "k"
    ttl = "forever" # ERROR: Invalid duration
  }
}
