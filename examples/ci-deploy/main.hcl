# ci-deploy: every CI pipeline runs this workflow after its build. However many
# pipelines finish at once:
#   - the schema migration of a release runs exactly once (lock + once marker),
#   - deployments to an environment run one at a time, and each one is
#     smoke-tested before the next deployment starts: the environment is held
#     from the start of the deployment to the end of its smoke test,
#   - when several pipelines wait for the environment, only the newest one
#     deploys: the older ones are superseded (skipped, exit 0), as GitLab's
#     newest_first or GitHub's pending-run replacement,
#   - the end-to-end tests of many pipelines share the environment, while a
#     deployment waits for them to finish (a shared lock),
#   - a pipeline that waits says who holds the environment and for how long.
#
# Point it at Redis so that runners on different machines coordinate:
#   LOCKSTEP_BACKEND=redis://redis.internal:6379/0 lockstep run -var release=v42 examples/ci-deploy
#
# Or uncomment the backend block:
# lockstep {
#   backend "redis" {
#     url = env("REDIS_URL")
#   }
# }

variable "env" {
  type    = string
  default = "staging"
  validation {
    condition     = contains(["staging", "production"], var.env)
    error_message = "The env must be staging or production."
  }
}

variable "release" {
  type        = string
  default     = "v1"
  description = "The release being deployed (e.g. the git tag)"
}

# The commands are variables so that you (and the tests) can swap in real
# tools; the defaults only print and sleep.
variable "migrate_command" {
  type    = list(string)
  default = ["sh", "-c", "echo \"migrating the $ENV database to $RELEASE\"; sleep 1"]
}

variable "deploy_command" {
  type    = list(string)
  default = ["sh", "-c", "echo \"deploying $RELEASE to $ENV (fencing token $LOCKSTEP_FENCING_TOKEN_ENVIRONMENT)\"; sleep 1"]
}

variable "smoke_test_command" {
  type    = list(string)
  default = ["sh", "-c", "echo \"smoke test of $RELEASE on $ENV passed (fencing token $LOCKSTEP_FENCING_TOKEN_ENVIRONMENT)\""]
}

variable "e2e_command" {
  type    = list(string)
  default = ["sh", "-c", "echo \"end-to-end tests of $RELEASE on $ENV passed\""]
}

locals {
  env_vars = {
    ENV     = var.env
    RELEASE = var.release
  }
}

# The environment is one unit of deployment and smoke test. Were deploy and
# smoke_test to take the lock each for themselves, another pipeline could
# deploy between them, and this pipeline's smoke test would pass or fail on
# the other pipeline's release. Held across both steps (and renewed between
# them), the lock is released after the smoke test, or as soon as the
# deployment failed. queue = "newest": a pipeline that queues for the
# environment replaces every older one still waiting, which then skips its
# deployment and smoke test ("superseded") — deploying a release that a newer
# one is about to replace would only waste the queue's time.
lock "environment" {
  key     = "deploy/${var.env}"
  ttl     = "30s"
  timeout = "30m"
  queue   = "newest"
  steps   = [step.deploy, step.smoke_test]
}

step "migrate" {
  description = "Apply schema migrations exactly once per release"

  lock {
    key     = "db/${var.env}/migrate"
    ttl     = "30s"
    timeout = "15m"
  }

  once {
    key = "db/${var.env}/migrated/${var.release}"
  }

  command = var.migrate_command
  env     = local.env_vars
  timeout = "15m"
}

step "deploy" {
  description = "Deploy, one pipeline at a time; only the newest waiting one"
  depends_on  = [step.migrate]

  command = var.deploy_command
  env     = local.env_vars
  retry {
    attempts = 2
    delay    = "5s"
  }
}

step "smoke_test" {
  description = "Test this pipeline's deployment before the next one starts"
  depends_on  = [step.deploy]
  command     = var.smoke_test_command
  env         = local.env_vars
}

# After the environment lock is released: many pipelines' end-to-end tests
# may use the environment at once (shared holders), but a deployment, which
# needs it alone, waits until they are done; once it queues, later test runs
# wait behind it, so neither side starves.
step "e2e_tests" {
  description = "Long tests against the environment, alongside other pipelines' tests"
  depends_on  = [step.smoke_test]

  lock {
    key     = "deploy/${var.env}"
    mode    = "shared"
    ttl     = "30s"
    timeout = "30m"
  }

  command = var.e2e_command
  env     = local.env_vars
}

output "migration" {
  value = step.migrate.status
}
