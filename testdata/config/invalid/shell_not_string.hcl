step "a" {
  shell = ["echo", "hi"] # ERROR: Incorrect value type
}
