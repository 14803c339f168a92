step "fan" {
  for_each = toset(["x", "y"])
  shell    = "echo ${each.key}"
}
step "a" {
  shell = step.fan.output # ERROR: Missing step instance key
}
