step "a" {
  shell = "true"
  check { # ERROR: Empty check block
  }
}
