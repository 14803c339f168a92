lockstep {
  backend "redis" {
    url        = "redis://redis.internal:6379/0"
    key_prefix = "lockstep:"
  }
}

variable "env" {
  type        = string
  description = "Target environment"
  validation {
    condition     = contains(["staging", "production"], var.env)
    error_message = "The env must be staging or production."
  }
}

variable "release" { type = string }

variable "nodes" {
  type    = list(string)
  default = ["web-1", "web-2", "web-3", "web-4"]
}

locals {
  db = "orders-${var.env}"
}

step "migrate" {
  description = "Apply schema migrations exactly once per release"

  lock {
    key     = "db/${local.db}/migrate"
    ttl     = "30s"    # lease; renewed every ttl/3 while the step runs
    timeout = "10m"    # stop waiting for the lock after this long
  }

  once {
    key = "db/${local.db}/migrated/${var.release}"   # after success, later runs skip
  }

  check {
    command = ["./bin/pending-migrations", local.db]  # exit 0: run, exit 1: skip
  }

  command = ["./bin/migrate", "--db", local.db]
  timeout = "15m"
}

step "restart" {
  for_each   = toset(var.nodes)
  depends_on = [step.migrate]

  lock "fleet" {
    key   = "fleet/${var.env}/restart"
    limit = 2          # at most two holders at once, across every runner
    ttl   = "1m"
  }
  lock "node" {
    key = "node/${each.key}"
  }

  command = ["./bin/restart", each.key]
  retry {
    attempts = 3
    delay    = "5s"
  }
}

step "announce" {
  depends_on = [step.restart]
  shell      = "echo \"released $RELEASE to $ENV\""
  env = {
    RELEASE = var.release
    ENV     = var.env
  }
}

output "migration" {
  value = step.migrate.status
}
