step "a" {
  shell        = "true"
  kill_timeout = "soon" # ERROR: Invalid duration
}
