step "a" {
  shell = "true"
  lock {
    key     = "k"
    ttl     = null # ERROR: Invalid duration
    on_busy = null # ERROR: Invalid on_busy value
    limit   = null # ERROR: Invalid lock limit
  }
}
