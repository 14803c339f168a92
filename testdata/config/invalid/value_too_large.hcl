locals {
  pad = format("%99999999s", "x") # ERROR: Value too large
}

step "a" {
  command = ["echo", "${local.pad}"]
}
