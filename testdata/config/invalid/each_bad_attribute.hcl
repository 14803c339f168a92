step "a" {
  for_each = toset(["x"])
  shell    = "echo ${each.name}" # ERROR: Invalid each attribute
}
