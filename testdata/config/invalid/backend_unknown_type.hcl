lockstep {
  backend "consul" { # ERROR: Unsupported backend type
  }
}
step "a" { shell = "true" }
