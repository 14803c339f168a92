variable "v" { default = "x" }
step "a" {
  description = var.v # ERROR: Variables not allowed
  shell       = "true"
}
