step "a" {
  shell = "echo ${vars.env}" # ERROR: Unknown reference
}
