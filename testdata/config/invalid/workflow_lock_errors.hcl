lock "env" {
  key   = "deploy/${step.a.output}" # ERROR: Invalid reference in lock
  steps = [step.a, step.deplyo] # ERROR: Reference to undeclared step
}

lock "env" { # ERROR: Duplicate lock declaration
  key = "other"
}

lock "empty" {
  key   = "empty"
  steps = [] # ERROR: Empty lock scope
}

lock "bad" {
  key   = "bad"
  steps = [step.a.output] # ERROR: Invalid steps reference
}

lock "scoped" {
  key   = "scoped"
  steps = [step.a]
}

step "a" {
  command = ["echo", lock.scoped.fencing_token]
}

step "b" {
  command = ["echo", lock.scoped.key] # ERROR: Reference to a lock outside its scope
}

step "c" {
  command = ["echo", lock.scopd.key] # ERROR: Reference to undeclared lock
}

step "d" {
  command = ["echo", lock.env.fence] # ERROR: Invalid lock attribute
}

output "o" {
  value = lock.env.key # ERROR: Invalid reference to a lock
}
