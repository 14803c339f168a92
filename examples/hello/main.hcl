# hello: the smallest lockstep workflow. No Redis needed: without a backend
# block (or -backend / LOCKSTEP_BACKEND) lockstep uses the embedded local
# backend, which coordinates every lockstep process on this machine.
#
#   go run ./cmd/lockstep run examples/hello
#   go run ./cmd/lockstep run -var name=you examples/hello

variable "name" {
  type        = string
  default     = "world"
  description = "Who to greet"
}

step "greet" {
  description = "Say hello while holding a lock"

  lock {
    key = "hello/greet"
    ttl = "10s"
  }

  # LOCKSTEP_FENCING_TOKEN grows with every acquisition of the lock.
  shell = "echo \"Hello, ${var.name}! (fencing token $LOCKSTEP_FENCING_TOKEN)\""
}

step "first_run" {
  description = "Runs on the first run only: the once marker is kept afterwards"
  depends_on  = [step.greet]

  # The lock makes the once marker race-free: a second run that gets here
  # at the same time waits, then finds the marker set and skips.
  lock {
    key = "hello/first-run"
  }
  once {
    key = "hello/first-run"
  }

  shell = "echo 'This is the first run on this machine.'"
}

step "shout" {
  description = "Uses the output of an earlier step"
  command     = ["sh", "-c", "echo \"$1\" | tr '[:lower:]' '[:upper:]'", "shout", step.greet.output]
}

output "greeting" {
  value = step.shout.output
}
