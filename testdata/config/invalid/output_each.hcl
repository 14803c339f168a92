step "a" { shell = "true" }
output "o" {
  value = each.key # ERROR: Reference to "each" outside for_each
}
