step "a" {
  shell = "true"
  lock {
    key     = "k"
    on_busy = "wiat" # ERROR: Invalid on_busy value
  }
}
