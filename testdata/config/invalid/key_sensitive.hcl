variable "token" {
  type      = string
  sensitive = true
}

locals {
  derived = "x-${var.token}"
}

lock "deploy" {
  key = "deploy/${sha256(local.derived)}" # ERROR: Sensitive value in lock key
}

step "a" {
  shell = "true"
  lock {
    key = "k/${var.token}" # ERROR: Sensitive value in lock key
  }
  once {
    key = local.derived # ERROR: Sensitive value in once key
  }
}
