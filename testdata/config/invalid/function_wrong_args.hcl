step "a" {
  shell = upper("a", "b") # ERROR: Too many function arguments
}
