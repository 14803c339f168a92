variable "url" { default = "redis://x" }
lockstep {
  backend "redis" {
    url = var.url # ERROR: Variables not allowed
  }
}
step "a" { shell = "true" }
