variable "n" {
  type = strang # ERROR: Invalid type specification
}
step "a" { shell = "true" }
