variable "a" { default = "x" }
variable "b" {
  default = "y"
  validation {
    condition     = var.a == "x" # ERROR: Invalid reference in variable validation
    error_message = "Nope."
  }
}
step "s" { shell = "true" }
