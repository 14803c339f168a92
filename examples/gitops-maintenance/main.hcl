# gitops-maintenance: every replica of a Deployment starts this workflow after a
# sync. Together they restart each node once per maintenance window, and never
# more than two nodes at a time across the whole fleet:
#   - lock "fleet" is a semaphore (limit = 2) shared by every replica,
#   - lock "node" keeps two replicas off the same node,
#   - the once marker makes the replicas that come second skip a node that
#     is already done.

variable "window" {
  type        = string
  default     = "2026-01"
  description = "Maintenance window id; each node restarts once per window"
}

variable "nodes" {
  type    = list(string)
  default = ["node-1", "node-2", "node-3", "node-4"]
}

# The node name is appended as the last argument.
variable "restart_command" {
  type    = list(string)
  default = ["sh", "-c", "echo \"draining and restarting $1\"; sleep 1", "restart"]
}

step "sync_check" {
  shell = "echo \"cluster in sync for window $WINDOW\""
  env   = { WINDOW = var.window }
}

step "restart" {
  for_each   = toset(var.nodes)
  depends_on = [step.sync_check]

  lock "fleet" {
    key   = "fleet/restart"
    limit = 2
    ttl   = "30s"
  }
  lock "node" {
    key = "node/${each.key}"
    ttl = "30s"
  }

  once {
    key = "maintenance/${var.window}/${each.key}"
    ttl = "720h"
  }

  command = concat(var.restart_command, [each.key])
  retry {
    attempts = 2
    delay    = "2s"
  }
}

step "report" {
  depends_on = [step.restart]
  command    = ["echo", "maintenance window ${var.window} finished"]
}
