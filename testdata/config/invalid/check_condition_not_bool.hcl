step "a" {
  shell = "true"
  check {
    condition = "maybe" # ERROR: Incorrect value type
  }
}
