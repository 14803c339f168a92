# A protected resource that rejects a stale lock holder by its fencing token.
#
# The lock makes writers take turns; the fencing token makes the resource
# itself refuse a writer whose lock has meanwhile passed to someone else
# (a holder paused past its TTL, or a lock lost in a Redis failover).
# See README.md.

variable "value" {
  type        = string
  default     = "hello"
  description = "What to write to the resource"
}

locals {
  # Where the toy resource keeps its data; FENCING_STORE overrides it.
  store = env("FENCING_STORE") != "" ? env("FENCING_STORE") : "${path.root}/.store"
}

step "write" {
  description = "Write to the protected resource while holding its lock"

  lock {
    key = "examples/fencing/resource"
    ttl = "10s"
  }

  # store.sh reads LOCKSTEP_FENCING_TOKEN, which lockstep sets for the step.
  command = ["sh", "${path.root}/store.sh", local.store, var.value]
}
