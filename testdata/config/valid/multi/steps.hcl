lockstep {
  backend "local" {
    path = "/tmp/lockstep-locks"
  }
}

step "build" {
  command = ["make", "build"]
  dir     = "."
  env = {
    TARGET = var.env
  }
  timeout      = "10m"
  kill_timeout = "5s"
}

step "rollout" {
  for_each = var.hosts

  lock {
    key     = "${local.prefix}/fleet"
    limit   = 2
    ttl     = "1m"
    on_busy = "wait"
  }
  lock "host" {
    key     = "host/${each.key}"
    timeout = "0s"
    on_busy = "skip"
  }

  check {
    condition = step.build.status == "succeeded" && each.value.port > 0
  }
  check {
    command = ["test", "-d", local.workdir]
  }

  command = ["./rollout", each.key, each.value.zone, tostring(each.value.port), step.build.output]
  retry {
    attempts = 2
    delay    = "1s"
  }
}

step "report" {
  shell = "echo ${jsonencode([for k, r in step.rollout : r.status])} ${step.rollout["web-1"].exit_code}"
  once {
    key = "report/${sha256(var.env)}"
    ttl = "24h"
  }
}

output "build_output" {
  value       = step.build.output
  description = "What the build printed"
  sensitive   = true
}

step "probe" {
  shell = "echo ${try(tonumber(env("PORT")), 8080)} ${can(regex("^a", "abc"))}"
  env = {
    CSV  = join(",", [for k, v in var.hosts : "${k}:${v.port}"])
    HASH = substr(sha256(var.env), 0, 12)
  }
}
