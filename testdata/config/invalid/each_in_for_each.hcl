step "a" {
  for_each = toset([each.key]) # ERROR: Invalid reference in for_each
  shell    = "true"
}
