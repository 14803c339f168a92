variable "env" {
  type    = string
  default = "staging"
}

variable "release" {
  type    = string
  default = "v1"
}

lock "environment" {
  key         = "deploy/${var.env}"
  ttl         = "30s"
  timeout     = "30m"
  queue       = "newest"
  max_waiters = 4
  steps       = [step.deploy, step.smoke_test]
}

lock "pipeline" {
  key  = "pipeline/${var.env}/${var.release}"
  mode = "shared"
}

step "build" {
  command = ["echo", "build", var.release]
}

step "deploy" {
  depends_on = [step.build]
  lock "db" {
    key  = "db/${var.env}"
    mode = "exclusive"
  }
  env = {
    FENCE = lock.environment.fencing_token
  }
  shell = <<-EOT
    echo "deploying ${var.release} with fence $FENCE"
    %{ if var.env == "production" }echo careful%{ endif }
  EOT
}

step "smoke_test" {
  depends_on = [step.deploy]
  lock "staging" {
    key         = "tests/${var.env}"
    mode        = "shared"
    max_waiters = 10
  }
  command = ["echo", "testing", lock.environment.key, step.deploy.output]
}
