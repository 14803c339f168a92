variable "env" {}
variable "env" {} # ERROR: Duplicate variable declaration
step "a" { shell = "echo ${var.env}" }
