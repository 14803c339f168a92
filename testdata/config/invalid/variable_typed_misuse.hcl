variable "nodes" {
  type    = list(string)
  default = []
}
step "a" {
  shell = var.nodes # ERROR: Incorrect value type
}
