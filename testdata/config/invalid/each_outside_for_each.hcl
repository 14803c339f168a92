step "a" {
  shell = "echo ${each.key}" # ERROR: Reference to "each" outside for_each
}
