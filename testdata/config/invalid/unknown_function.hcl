step "a" {
  shell = uper("echo hi") # ERROR: Call to unknown function
}
