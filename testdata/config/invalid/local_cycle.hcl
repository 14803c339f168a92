locals {
  a = local.b # ERROR: Dependency cycle between local values
  b = "${local.a}-x"
  c = local.c # ERROR: Self-referential local value
}
step "s" { shell = "true" }
