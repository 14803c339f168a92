step "a" {
  shell = "true"
  lock { # ERROR: Missing required argument
    ttl = "5s"
  }
}
