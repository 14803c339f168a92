lock "deploy-env" {
  key = "a"
}

lock "deploy_env" { # ERROR: Conflicting fencing token variable
  key = "b"
}

lock "db" {
  key   = "c"
  steps = [step.s]
}

step "s" {
  lock "DB" { # ERROR: Conflicting fencing token variable
    key = "d"
  }
  command = ["true"]
}

step "t" {
  command = ["true"]
}
