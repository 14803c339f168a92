step "a" {
  shell = "true"
  lock {
    key = "k" "j" # ERROR: Missing newline after argument
  }
}
