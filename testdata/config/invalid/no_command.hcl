step "a" { # ERROR: Missing command
  description = "does nothing"
}
