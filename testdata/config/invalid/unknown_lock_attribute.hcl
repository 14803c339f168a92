step "a" {
  shell = "true"
  lock {
    key  = "k"
    tll  = "5s" # ERROR: Unsupported argument
  }
}
