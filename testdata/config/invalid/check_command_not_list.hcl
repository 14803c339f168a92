step "a" {
  shell = "true"
  check {
    command = "test -f x" # ERROR: Incorrect value type
  }
}
