variable "n" {
  type    = number
  default = "many" # ERROR: Invalid default value for variable
}
step "a" { shell = "true" }
