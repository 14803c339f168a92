step "9lives" { # ERROR: Invalid step name
  shell = "true"
}
