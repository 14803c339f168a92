locals { x = 1 }
locals {
  x = 2 # ERROR: Duplicate local value declaration
}
step "a" { shell = "${local.x}" }
