step "a" { shell = "true" }
locals {
  out = step.a.output # ERROR: Invalid reference in local value
  key = each.key # ERROR: Reference to "each" outside for_each
}
