variable "hosts" {
  type      = set(string)
  sensitive = true
}

step "a" {
  for_each = var.hosts # ERROR: Invalid for_each argument
  command  = ["echo", each.key]
}
