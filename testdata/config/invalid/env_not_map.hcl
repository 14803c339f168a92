step "a" {
  shell = "true"
  env   = ["A=1"] # ERROR: Incorrect value type
}
