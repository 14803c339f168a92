step "a" {
  for_each = ["x", "y"] # ERROR: Invalid for_each argument
  shell    = "true"
}
