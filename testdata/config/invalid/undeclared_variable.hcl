variable "env" {}
step "a" {
  shell = "echo ${var.evn}" # ERROR: Reference to undeclared variable
}
