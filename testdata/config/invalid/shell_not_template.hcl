locals {
  script = "echo hello"
}

step "a" {
  shell = local.script # ERROR: Shell script is not a template
}
