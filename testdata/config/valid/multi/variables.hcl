variable "env" {
  type        = string
  default     = "staging"
  description = "Target environment"
  sensitive   = false
}

variable "hosts" {
  type = map(object({
    zone = string
    port = optional(number, 22)
  }))
  default = {
    web-1 = { zone = "a" }
    web-2 = { zone = "b", port = 2222 }
  }
}

locals {
  prefix  = "deploy/${var.env}"
  workdir = abspath(path.root)
}
