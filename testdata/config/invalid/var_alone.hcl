variable "v" { default = "x" }
step "a" {
  shell = jsonencode(var) # ERROR: Invalid reference
}
