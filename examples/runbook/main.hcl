# runbook: fail over the primary of a database cluster. Two operators may start
# it at the same time; only one touches the cluster. The second one waits and
# sees who holds it ("held by alice@bastion-2, pid 4211, step.failover, for
# 12s"), and once it gets the lock its check sees the failover is done and
# skips it. With -lock-timeout 0s it does not wait: it prints the lock-info
# block and exits 3.
#
#   LOCKSTEP_BACKEND=redis://redis.internal:6379/0 lockstep run -var cluster=orders examples/runbook

variable "cluster" {
  type    = string
  default = "orders-db"
}

variable "state_dir" {
  type        = string
  default     = "/tmp/lockstep-runbook"
  description = "Where this demo keeps the cluster's state (a real runbook asks the cluster)"
}

variable "failover_command" {
  type    = list(string)
  default = ["sh", "-c", "echo \"promoting the replica of $CLUSTER\"; sleep 2; mkdir -p \"$STATE\"; date > \"$STATE/failed-over\""]
}

locals {
  state = "${var.state_dir}/${var.cluster}"
}

step "preflight" {
  description = "Read-only checks; no lock needed"
  shell       = "echo \"checking replication lag of $CLUSTER\""
  env         = { CLUSTER = var.cluster }
}

step "failover" {
  description = "Promote the replica; one operator at a time"
  depends_on  = [step.preflight]

  lock {
    key     = "cluster/${var.cluster}"
    ttl     = "30s"
    timeout = "10m"
  }

  # Evaluated while the lock is held: exit 0 proceeds, exit 1 skips.
  check {
    command = ["sh", "-c", "test ! -e \"$0/failed-over\"", local.state]
  }

  command      = var.failover_command
  env          = { CLUSTER = var.cluster, STATE = local.state }
  timeout      = "5m"
  kill_timeout = "30s"
}

step "verify" {
  description = "Confirm the new primary answers"
  depends_on  = [step.failover]
  shell       = "echo \"$CLUSTER failover state: $(cat \"$STATE/failed-over\" 2>/dev/null || echo missing)\""
  env         = { CLUSTER = var.cluster, STATE = local.state }
}

output "failover" {
  value = step.failover.status
}
