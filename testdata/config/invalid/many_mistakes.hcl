variable "env" { type = string }

step "deploy" {
  command = "deploy" # ERROR: Incorrect value type
  lock {
    key     = "env/${var.evn}" # ERROR: Reference to undeclared variable
    ttl     = "100ms" # ERROR: Duration too short
    on_busy = "retry" # ERROR: Invalid on_busy value
    limit   = -1 # ERROR: Invalid lock limit
  }
  check { # ERROR: Empty check block
  }
  unknown_thing = true # ERROR: Unsupported argument
}

step "notify" {
  shell = "echo ${step.deploy.result}" # ERROR: Invalid step attribute
}
